// Command kubepulse-render renders a Helm chart the way `helm template` does, for tests on
// machines without helm. It reproduces the parts of Helm's engine a chart can observe:
// values coalescing (values.yaml, then -f files in order, then --set), the template data
// (.Values, .Release, .Chart, .Capabilities, .Files, .Template), Helm's function map
// (sprig without env/expandenv, plus include, tpl, required, fail, toYaml, toJson,
// fromYaml, fromJson, lookup) and missingkey=zero with "<no value>" removed.
//
// Build in GOPATH mode with Debian's packages:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o kubepulse-render .
//
// Usage:
//
//	kubepulse-render --chart DIR [--name R] [--namespace NS] [-f values.yaml]...
//	    [--set k=v]... [--set-string k=v]... [--api-versions G/V]... [--kube-version v1.31.0]
//	    [--strict] [--notes | --dump-values]
//
// Output is helm's: a stream of YAML documents, each preceded by `---` and a
// `# Source: <chart>/templates/<file>` comment. Errors go to stderr with exit status 1.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	yaml "gopkg.in/yaml.v2"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// Metadata mirrors helm's chart.Metadata: what a template sees as .Chart.
type Metadata struct {
	Name         string            `yaml:"name"`
	Home         string            `yaml:"home"`
	Sources      []string          `yaml:"sources"`
	Version      string            `yaml:"version"`
	Description  string            `yaml:"description"`
	Keywords     []string          `yaml:"keywords"`
	Maintainers  []interface{}     `yaml:"maintainers"`
	Icon         string            `yaml:"icon"`
	APIVersion   string            `yaml:"apiVersion"`
	Condition    string            `yaml:"condition"`
	Tags         string            `yaml:"tags"`
	AppVersion   string            `yaml:"appVersion"`
	Deprecated   bool              `yaml:"deprecated"`
	Annotations  map[string]string `yaml:"annotations"`
	KubeVersion  string            `yaml:"kubeVersion"`
	Dependencies []interface{}     `yaml:"dependencies"`
	Type         string            `yaml:"type"`
}

// VersionSet mirrors helm's chartutil.VersionSet (.Capabilities.APIVersions).
type VersionSet []string

// Has reports whether the set holds the API version (or group/version/kind).
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// KubeVersion mirrors helm's chartutil.KubeVersion.
type KubeVersion struct {
	Version    string
	Major      string
	Minor      string
	GitVersion string
}

func (k KubeVersion) String() string { return k.Version }

// Capabilities mirrors helm's chartutil.Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

// Files mirrors helm's engine files: the chart's non-template files by relative path.
type Files map[string][]byte

// Get returns a file's content as a string, "" when missing (as helm does).
func (f Files) Get(name string) string { return string(f[name]) }

// GetBytes returns a file's content, nil when missing.
func (f Files) GetBytes(name string) []byte { return f[name] }

// Glob returns the files whose path matches the pattern (path.Match syntax; helm's
// gobwas/glob agrees with it for patterns without `**` or braces).
func (f Files) Glob(pattern string) Files {
	out := Files{}
	for name, b := range f {
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = b
		}
	}
	return out
}

// Lines returns a file's lines.
func (f Files) Lines(name string) []string {
	if f[name] == nil {
		return []string{}
	}
	return strings.Split(string(f[name]), "\n")
}

// defaultAPIVersions approximates the built-in API versions helm reports for a current
// cluster; charts gate optional CRD objects on the ones that are not built in.
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v1", "autoscaling/v2",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1",
	"authentication.k8s.io/v1", "authorization.k8s.io/v1", "apiextensions.k8s.io/v1",
	"admissionregistration.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1",
	"events.k8s.io/v1", "scheduling.k8s.io/v1", "node.k8s.io/v1", "certificates.k8s.io/v1",
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kubepulse-render", flag.ContinueOnError)
	chartDir := fs.String("chart", "", "chart directory")
	name := fs.String("name", "release-name", "release name")
	namespace := fs.String("namespace", "default", "release namespace")
	kubeVersion := fs.String("kube-version", "v1.31.0", "Kubernetes version for .Capabilities.KubeVersion")
	notes := fs.Bool("notes", false, "print the rendered NOTES.txt instead of the manifests")
	dumpValues := fs.Bool("dump-values", false, "print the coalesced values as JSON instead of the manifests")
	strict := fs.Bool("strict", false, "fail on a reference to a missing value (missingkey=error, as `helm lint --strict`)")
	var valueFiles, sets, setStrings, apiVersions stringList
	fs.Var(&valueFiles, "f", "values file (repeatable)")
	fs.Var(&valueFiles, "values", "values file (repeatable)")
	fs.Var(&sets, "set", "set a value: a.b[0].c=v (repeatable, comma-separated)")
	fs.Var(&setStrings, "set-string", "set a string value (repeatable)")
	fs.Var(&apiVersions, "api-versions", "extra API version for .Capabilities.APIVersions (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *chartDir == "" {
		return errors.New("--chart must be set")
	}

	meta, err := loadChartYAML(filepath.Join(*chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	defaults, err := readValuesFile(filepath.Join(*chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	user := map[string]interface{}{}
	for _, f := range valueFiles {
		v, err := readValuesFile(f)
		if err != nil {
			return err
		}
		user = mergeMaps(user, v)
	}
	for _, s := range sets {
		if err := parseSet(s, user, false); err != nil {
			return fmt.Errorf("failed parsing --set data: %v", err)
		}
	}
	for _, s := range setStrings {
		if err := parseSet(s, user, true); err != nil {
			return fmt.Errorf("failed parsing --set-string data: %v", err)
		}
	}
	values := coalesce(user, defaults)
	if *dumpValues {
		out, err := json.MarshalIndent(values, "", "  ")
		if err != nil {
			return err
		}
		fmt.Println(string(out))
		return nil
	}

	kv := *kubeVersion
	if !strings.HasPrefix(kv, "v") {
		kv = "v" + kv
	}
	parts := strings.SplitN(strings.TrimPrefix(kv, "v"), ".", 3)
	if len(parts) < 2 {
		return fmt.Errorf("--kube-version %q: expected vMAJOR.MINOR[.PATCH]", *kubeVersion)
	}
	caps := Capabilities{
		KubeVersion: KubeVersion{Version: kv, Major: parts[0], Minor: parts[1], GitVersion: kv},
		APIVersions: append(VersionSet(append([]string{}, defaultAPIVersions...)), apiVersions...),
		HelmVersion: map[string]string{"Version": "v3.16.0"},
	}
	release := map[string]interface{}{
		"Name": *name, "Namespace": *namespace, "IsInstall": true, "IsUpgrade": false,
		"Revision": 1, "Service": "Helm",
	}

	templates, files, err := loadChartFiles(*chartDir, meta.Name)
	if err != nil {
		return err
	}
	rendered, err := render(templates, meta, values, release, caps, files, *strict)
	if err != nil {
		return err
	}

	names := make([]string, 0, len(rendered))
	for n := range rendered {
		names = append(names, n)
	}
	sort.Strings(names)
	if *notes {
		for _, n := range names {
			if strings.HasSuffix(n, "/NOTES.txt") {
				fmt.Print(rendered[n])
			}
		}
		return nil
	}
	sep := regexp.MustCompile(`(?m)^---\s*$`)
	var out bytes.Buffer
	for _, n := range names {
		if strings.HasSuffix(n, "/NOTES.txt") || strings.HasPrefix(path.Base(n), "_") {
			continue
		}
		for _, doc := range sep.Split(rendered[n], -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", n, strings.Trim(doc, "\n"))
		}
	}
	_, err = os.Stdout.Write(out.Bytes())
	return err
}

func loadChartYAML(file string) (*Metadata, error) {
	b, err := ioutil.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var m Metadata
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if m.Name == "" || m.Version == "" {
		return nil, fmt.Errorf("%s: name and version must be set", file)
	}
	return &m, nil
}

// readValuesFile reads YAML the way helm does (sigs.k8s.io/yaml): through JSON, so
// numbers become float64 and maps map[string]interface{}.
func readValuesFile(file string) (map[string]interface{}, error) {
	b, err := ioutil.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var raw interface{}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if raw == nil {
		return map[string]interface{}{}, nil
	}
	j, err := json.Marshal(jsonable(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	var out map[string]interface{}
	if err := json.Unmarshal(j, &out); err != nil {
		return nil, fmt.Errorf("%s: the top level must be a mapping: %v", file, err)
	}
	return out, nil
}

// jsonable converts yaml.v2's map[interface{}]interface{} trees to JSON-encodable ones.
func jsonable(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, val := range t {
			m[fmt.Sprint(k)] = jsonable(val)
		}
		return m
	case []interface{}:
		for i := range t {
			t[i] = jsonable(t[i])
		}
		return t
	default:
		return v
	}
}

// mergeMaps deep-merges b over a (helm's mergeMaps for successive -f files).
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]interface{}); ok {
			if om, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(om, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce fills user values with chart defaults; a user null deletes the default key,
// as helm's chartutil.CoalesceValues does.
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(user))
	for k, v := range user {
		out[k] = v
	}
	for k, dv := range defaults {
		uv, present := out[k]
		if !present {
			out[k] = deepCopy(dv)
			continue
		}
		if uv == nil {
			delete(out, k)
			continue
		}
		um, uok := uv.(map[string]interface{})
		dm, dok := dv.(map[string]interface{})
		if uok && dok {
			out[k] = coalesce(um, dm)
		}
	}
	for k, v := range out {
		if v == nil {
			delete(out, k)
		}
	}
	return out
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, val := range t {
			m[k] = deepCopy(val)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(t))
		for i := range t {
			l[i] = deepCopy(t[i])
		}
		return l
	default:
		return v
	}
}

var indexRe = regexp.MustCompile(`^(.*)\[(\d+)\]$`)

// parseSet applies one --set argument (helm's strvals subset: dotted keys, list
// indices, comma-separated pairs, backslash escapes, typed scalars unless asString).
func parseSet(s string, into map[string]interface{}, asString bool) error {
	for _, pair := range splitUnescaped(s, ',') {
		eq := indexUnescaped(pair, '=')
		if eq < 0 {
			return fmt.Errorf("key %q has no value", pair)
		}
		key, raw := pair[:eq], unescape(pair[eq+1:])
		var val interface{} = raw
		if !asString {
			val = typedValue(raw)
		}
		segs := splitUnescaped(key, '.')
		if err := setPath(into, segs, val); err != nil {
			return fmt.Errorf("key %q: %v", key, err)
		}
	}
	return nil
}

func typedValue(s string) interface{} {
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if s == "0" || (len(s) > 0 && s[0] != '0' && s[0] != '+') {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return s
}

func setPath(m map[string]interface{}, segs []string, val interface{}) error {
	seg := unescape(segs[0])
	last := len(segs) == 1
	if sm := indexRe.FindStringSubmatch(seg); sm != nil {
		idx, _ := strconv.Atoi(sm[2])
		list, _ := m[sm[1]].([]interface{})
		for len(list) <= idx {
			list = append(list, nil)
		}
		if last {
			list[idx] = val
		} else {
			child, ok := list[idx].(map[string]interface{})
			if !ok {
				child = map[string]interface{}{}
			}
			if err := setPath(child, segs[1:], val); err != nil {
				return err
			}
			list[idx] = child
		}
		m[sm[1]] = list
		return nil
	}
	if seg == "" {
		return errors.New("empty key segment")
	}
	if last {
		m[seg] = val
		return nil
	}
	child, ok := m[seg].(map[string]interface{})
	if !ok {
		child = map[string]interface{}{}
		m[seg] = child
	}
	return setPath(child, segs[1:], val)
}

func splitUnescaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == sep {
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func indexUnescaped(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == c {
			return i
		}
	}
	return -1
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// loadChartFiles returns the templates by helm name (<chart>/templates/...) and the
// other files (.Files) by path relative to the chart.
func loadChartFiles(dir, chartName string) (map[string]string, Files, error) {
	templates := map[string]string{}
	files := Files{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			if rel == "charts" {
				return errors.New("subcharts are not supported by this renderer")
			}
			return nil
		}
		b, err := ioutil.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(rel, "templates/"):
			templates[chartName+"/"+rel] = string(b)
		case rel == "Chart.yaml" || rel == "values.yaml" || rel == "values.schema.json":
		default:
			files[rel] = b
		}
		return nil
	})
	return templates, files, err
}

func toYAML(v interface{}) (string, error) {
	// sigs.k8s.io/yaml semantics: through JSON, then YAML with sorted keys.
	j, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var obj interface{}
	if err := yaml.Unmarshal(j, &obj); err != nil {
		return "", err
	}
	out, err := yaml.Marshal(obj)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

func fromYAML(s string) map[string]interface{} {
	var raw interface{}
	if err := yaml.Unmarshal([]byte(s), &raw); err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	j, err := json.Marshal(jsonable(raw))
	if err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	m := map[string]interface{}{}
	if err := json.Unmarshal(j, &m); err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	return m
}

const recursionMaxNums = 1000

func render(templates map[string]string, meta *Metadata, values map[string]interface{}, release map[string]interface{}, caps Capabilities, files Files, strict bool) (map[string]string, error) {
	root := template.New("gotpl")
	includedNames := map[string]int{}
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = func(v interface{}) string {
		s, err := toYAML(v)
		if err != nil {
			return ""
		}
		return s
	}
	funcs["mustToYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	funcs["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if includedNames[name] > recursionMaxNums {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includedNames[name]++
		defer func() { includedNames[name]-- }()
		var buf strings.Builder
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	tplCount := 0
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		tplCount++
		t, err = t.New(fmt.Sprintf("tpl-%d", tplCount)).Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var buf strings.Builder
		if err := t.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %v", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	funcs["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, errors.New(warn)
		}
		if s, ok := val.(string); ok && s == "" {
			return val, errors.New(warn)
		}
		return val, nil
	}
	funcs["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	if strict {
		root.Funcs(funcs).Option("missingkey=error")
	} else {
		root.Funcs(funcs).Option("missingkey=zero")
	}

	// Partials first so their definitions exist whatever the order (helm sorts the same way).
	names := make([]string, 0, len(templates))
	for n := range templates {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		pi, pj := strings.HasPrefix(path.Base(names[i]), "_"), strings.HasPrefix(path.Base(names[j]), "_")
		if pi != pj {
			return pi
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		if _, err := root.New(n).Parse(templates[n]); err != nil {
			return nil, fmt.Errorf("parse error in %s: %v", n, err)
		}
	}
	out := map[string]string{}
	for _, n := range names {
		if strings.HasPrefix(path.Base(n), "_") {
			continue
		}
		data := map[string]interface{}{
			"Values":       values,
			"Release":      release,
			"Chart":        meta,
			"Capabilities": caps,
			"Files":        files,
			"Template":     map[string]interface{}{"Name": n, "BasePath": meta.Name + "/templates"},
		}
		var buf strings.Builder
		if err := root.ExecuteTemplate(&buf, n, data); err != nil {
			return nil, cleanupExecError(n, err)
		}
		out[n] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

var execErrRe = regexp.MustCompile(`^template: (.*?): executing ".*?" at <.*?>: error calling (?:required|fail): (.*)$`)

// cleanupExecError shortens required/fail errors the way helm does:
// "execution error at (file:line:col): message".
func cleanupExecError(name string, err error) error {
	if m := execErrRe.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("execution error at (%s): %s", m[1], m[2])
	}
	return fmt.Errorf("rendering %s: %v", name, err)
}
