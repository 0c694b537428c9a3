{{- define "probe.name" -}}{{ .Chart.Name }}-{{ .Release.Name }}{{- end }}
