import { describe, expect, it } from 'vitest';
import { Template } from './template.js';
import { humanize, humanizeDuration, humanizePercentage, humanize1024, formatValue, sprintf } from './humanize.js';

const data = {
  Labels: { instance: 'node-1:9100', job: 'node', namespace: 'kube-system' },
  ExternalLabels: { cluster: 'prod' },
  ExternalURL: 'http://collector:9190',
  Value: 0.12345,
};

interface Case {
  name: string;
  input: string;
  want: string;
}

describe('template execution', () => {
  it.each<Case>([
    { name: 'labels and value', input: '{{ $labels.instance }} of {{ $labels.job }} = {{ $value }}', want: 'node-1:9100 of node = 0.12345' },
    { name: 'missing label is empty', input: '[{{ $labels.nope }}]', want: '[]' },
    { name: 'humanizePercentage pipe', input: '{{ $value | humanizePercentage }}', want: '12.35%' },
    { name: 'printf', input: '{{ printf "%.2f" $value }}', want: '0.12' },
    { name: 'printf %s %d', input: '{{ printf "%s has %d" $labels.job 3 }}', want: 'node has 3' },
    { name: 'with', input: '{{ with $labels.instance }}i={{ . }}{{ end }}', want: 'i=node-1:9100' },
    { name: 'if/else', input: '{{ if gt $value 0.1 }}big{{ else }}small{{ end }}', want: 'big' },
    { name: 'else if', input: '{{ if gt $value 1.0 }}a{{ else if gt $value 0.1 }}b{{ else }}c{{ end }}', want: 'b' },
    { name: 'externalLabels', input: '{{ $externalLabels.cluster | toUpper }}', want: 'PROD' },
    { name: 'trim markers and reReplaceAll', input: 'a  {{- reReplaceAll ":.*" "" $labels.instance -}}  x', want: 'anode-1x' },
    { name: 'reReplaceAll with group', input: '{{ reReplaceAll "(.*):(.*)" "$2/$1" $labels.instance }}', want: '9100/node-1' },
    { name: 'variables', input: '{{ $x := 3 }}{{ $x }}', want: '3' },
    { name: 'range over map', input: '{{ range $k, $v := $labels }}{{$k}}={{$v}},{{end}}', want: 'instance=node-1:9100,job=node,namespace=kube-system,' },
    { name: 'dot fields and title', input: '{{ .Labels.job | title }}', want: 'Node' },
    { name: 'humanize family', input: '{{ humanize 1234567 }} {{ humanizeDuration 3723 }} {{ humanize1024 2048 }}', want: '1.235M 1h 2m 3s 2ki' },
    { name: 'parens', input: '{{ (printf "%s-%s" "a" "b") | toUpper }}', want: 'A-B' },
    { name: 'comment', input: 'x{{/* hidden */}}y', want: 'xy' },
    { name: 'externalURL', input: '{{ $externalURL }}/alerts', want: 'http://collector:9190/alerts' },
  ])('$name', async ({ input, want }) => {
    expect(await Template.parse('t', input).execute(data)).toBe(want);
  });

  it('query, first, value, label', async () => {
    const t = Template.parse('t', '{{ with query "up" }}{{ . | first | value }} {{ . | first | label "job" }}{{ end }}');
    const out = await t.execute(data, { query: async () => [{ Labels: { job: 'x' }, Value: 42 }] });
    expect(out).toBe('42 x');
  });
});

describe('template parse errors', () => {
  it.each<{ name: string; input: string; want: RegExp }>([
    { name: 'undefined variable', input: 'Instance {{ $label.foo }} down', want: /undefined variable "\$label"/ },
    { name: 'unknown function', input: '{{ nofunc 1 }}', want: /function "nofunc" not defined/ },
    { name: 'unclosed if', input: '{{ if 1 }}x', want: /unexpected EOF/ },
    { name: 'unclosed action', input: '{{ $labels.x ', want: /unclosed action/ },
    { name: 'stray end', input: '{{ end }}', want: /unexpected \{\{end\}\}/ },
  ])('$name', ({ input, want }) => {
    expect(() => Template.parse('__alert_X', input)).toThrow(want);
  });
});

describe('Go number formatting', () => {
  it.each<{ name: string; got: () => string; want: string }>([
    { name: '%v small', got: () => formatValue(0.1), want: '0.1' },
    { name: '%v 1e6', got: () => formatValue(1e6), want: '1e+06' },
    { name: '%v 123456', got: () => formatValue(123456), want: '123456' },
    { name: '%v 1e-5', got: () => formatValue(0.00001), want: '1e-05' },
    { name: '%v NaN', got: () => formatValue(NaN), want: 'NaN' },
    { name: '%v +Inf', got: () => formatValue(Infinity), want: '+Inf' },
    { name: 'humanize 0', got: () => humanize(0), want: '0' },
    { name: 'humanize milli', got: () => humanize(0.0123), want: '12.3m' },
    { name: 'humanize 1000', got: () => humanize(1000), want: '1k' },
    { name: 'humanizeDuration sub-second', got: () => humanizeDuration(0.25), want: '250ms' },
    { name: 'humanizeDuration days', got: () => humanizeDuration(90061), want: '1d 1h 1m 1s' },
    { name: 'humanizeDuration seconds', got: () => humanizeDuration(1.5), want: '1.5s' },
    { name: 'humanizePercentage', got: () => humanizePercentage(0.98765), want: '98.77%' },
    { name: 'humanize1024', got: () => humanize1024(1073741824), want: '1Gi' },
    { name: 'sprintf width', got: () => sprintf('%5.1f|%-4s|', [3.14159, 'ab']), want: '  3.1|ab  |' },
  ])('$name', ({ got, want }) => expect(got()).toBe(want));
});
