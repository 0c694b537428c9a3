{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "kubepulse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, truncated to 63 characters. The release name is used alone
when it already contains the chart name.
*/}}
{{- define "kubepulse.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Names of the two workloads, at most 52 characters: the controller-revision-hash label
(name, "-", 10 characters) must fit in 63. The suffix is kept whole by truncating the
prefix. Objects named after a workload plus a suffix stay within 63.
*/}}
{{- define "kubepulse.agent.fullname" -}}
{{- printf "%s-agent" (include "kubepulse.fullname" . | trunc 46 | trimSuffix "-") }}
{{- end }}

{{- define "kubepulse.collector.fullname" -}}
{{- printf "%s-collector" (include "kubepulse.fullname" . | trunc 42 | trimSuffix "-") }}
{{- end }}

{{/*
Namespace of every namespaced resource.
*/}}
{{- define "kubepulse.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Chart name and version, as used by the helm.sh/chart label.
*/}}
{{- define "kubepulse.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every resource. Call with (dict "ctx" $ "component" "agent").
*/}}
{{- define "kubepulse.labels" -}}
helm.sh/chart: {{ include "kubepulse.chart" .ctx }}
{{ include "kubepulse.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Values.image.tag | default .ctx.Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: {{ include "kubepulse.name" .ctx }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels; the component tells the two workloads apart.
*/}}
{{- define "kubepulse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubepulse.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ required "kubepulse.selectorLabels: component must be set." .component }}
{{- end }}

{{/*
ServiceAccount names.
*/}}
{{- define "kubepulse.agent.serviceAccountName" -}}
{{- if .Values.agent.serviceAccount.create }}
{{- default (include "kubepulse.agent.fullname" .) .Values.agent.serviceAccount.name }}
{{- else }}
{{- required "agent.serviceAccount.name must be set when agent.serviceAccount.create is false." .Values.agent.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kubepulse.collector.serviceAccountName" -}}
{{- if .Values.collector.serviceAccount.create }}
{{- default (include "kubepulse.collector.fullname" .) .Values.collector.serviceAccount.name }}
{{- else }}
{{- required "collector.serviceAccount.name must be set when collector.serviceAccount.create is false." .Values.collector.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: registry/repository:tag or registry/repository@digest. The tag
falls back to the chart's appVersion.
*/}}
{{- define "kubepulse.image" -}}
{{- $registry := .Values.global.imageRegistry | default .Values.image.registry }}
{{- $repository := required "image.repository must be set." .Values.image.repository }}
{{- $ref := $repository }}
{{- if $registry }}
{{- $ref = printf "%s/%s" $registry $repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- if not (hasPrefix "sha256:" .Values.image.digest) }}
{{- fail (printf "image.digest must start with sha256:, got %q." .Values.image.digest) }}
{{- end }}
{{- printf "%s@%s" $ref .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $ref (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}
{{- end }}

{{/*
The collector Service's in-cluster URL.
*/}}
{{- define "kubepulse.collector.url" -}}
{{- printf "http://%s.%s.svc:%d" (include "kubepulse.collector.fullname" .) (include "kubepulse.namespace" .) (int .Values.collector.port) }}
{{- end }}

{{/*
Where the agents push.
*/}}
{{- define "kubepulse.agent.collectorURL" -}}
{{- .Values.agent.collectorURL | default (include "kubepulse.collector.url" .) }}
{{- end }}

{{/*
Rule files of the collector from collector.rules.extra: file name -> content (objects
rendered with toYaml, strings kept as written), as JSON. The default pack is built into
the collector and switched with default_rules.
*/}}
{{- define "kubepulse.collector.ruleFiles" -}}
{{- $files := dict }}
{{- range $name, $content := .Values.collector.rules.extra }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $name) }}
{{- fail (printf "collector.rules.extra: %q is not a valid file name (lowercase letters, digits and '-')." $name) }}
{{- end }}
{{- if kindIs "string" $content }}
{{- $_ := set $files (printf "%s.yaml" $name) $content }}
{{- else }}
{{- $_ := set $files (printf "%s.yaml" $name) (toYaml $content) }}
{{- end }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{/*
Bytes in a Kubernetes quantity such as 10Gi, 1.5T or 500M (the units values.schema.json
allows), as a float.
*/}}
{{- define "kubepulse.quantityBytes" -}}
{{- $q := toString . }}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $q }}
{{- $unit := trimPrefix $num $q }}
{{- $mult := dict "" 1 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "Pi" 1125899906842624 "Ei" 1152921504606846976 }}
{{- if or (not $num) (not (hasKey $mult $unit)) }}
{{- fail (printf "%q is not a Kubernetes storage quantity (e.g. 20Gi)." $q) }}
{{- end }}
{{- mulf $num (get $mult $unit) }}
{{- end }}

{{/*
Name of the ServiceAccount that may query the collector.
*/}}
{{- define "kubepulse.reader.serviceAccountName" -}}
{{- printf "%s-reader" (include "kubepulse.fullname" . | trunc 45 | trimSuffix "-") }}
{{- end }}

{{/*
The collector's configuration file: collector.config plus what the chart knows
(cluster, rule files, who may push and read).
*/}}
{{- define "kubepulse.collector.config" -}}
{{- $cfg := deepCopy .Values.collector.config }}
{{- $_ := set $cfg "cluster" (required "global.cluster must be set." .Values.global.cluster) }}
{{- $ruleFiles := include "kubepulse.collector.ruleFiles" . | fromJson }}
{{- if $ruleFiles }}
{{- $_ := set $cfg "rule_files" (list "/etc/kubepulse/rules/*.yaml") }}
{{- end }}
{{- $_ := set $cfg "default_rules" (dict "enabled" .Values.collector.rules.defaults.enabled "rules" .Values.collector.rules.defaults.rules) }}
{{- /* A full volume stops ingestion: cap the store below the volume unless told otherwise. */}}
{{- if and .Values.collector.persistence.enabled (eq (int64 (default 0 $cfg.storage.max_bytes)) 0) }}
{{- $_ := set $cfg.storage "max_bytes" (mulf (include "kubepulse.quantityBytes" .Values.collector.persistence.size) 0.9 | floor | int64) }}
{{- end }}
{{- $ns := include "kubepulse.namespace" . }}
{{- /* Start from the values' lists: sprig's list/concat give nil (YAML null) when empty. */}}
{{- $pushers := .Values.collector.auth.extraPushers }}
{{- if .Values.agent.enabled }}
{{- $pushers = prepend $pushers (printf "system:serviceaccount:%s:%s" $ns (include "kubepulse.agent.serviceAccountName" .)) }}
{{- end }}
{{- if not $pushers }}
{{- fail "collector.auth.extraPushers must name at least one identity when agent.enabled is false: nothing could push." }}
{{- end }}
{{- $readers := .Values.collector.auth.readers }}
{{- if .Values.collector.auth.createReader }}
{{- $readers = prepend $readers (printf "system:serviceaccount:%s:%s" $ns (include "kubepulse.reader.serviceAccountName" .)) }}
{{- end }}
{{- $kube := dict "enabled" true "push_identities" $pushers "read_identities" $readers }}
{{- $_ := set $cfg "auth" (dict "kubernetes" $kube "open_metrics" .Values.collector.auth.openMetrics) }}
{{- toYaml $cfg }}
{{- end }}
