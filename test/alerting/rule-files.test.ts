/**
 * The rule loader and `promtool check rules` (Prometheus 2.42, Debian) agree on which
 * real-world rule files are valid; the loader's errors name file, line and reason.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { parseExpr } from '../../collector/promql/index.js';
import { loadRuleFile, loadRuleFiles, expandRulePaths, RuleLoadError, parseRuleFile } from '../../collector/rules/rule-file.js';
import { lezerExprValidator } from '../../collector/rules/lezer-validator.js';
import { fixture } from '../helpers/paths.js';

const run = promisify(execFile);
const engineValidator = (e: string) => void parseExpr(e);
const RULES_DIR = fixture('alert-rules');
const tmp = mkdtempSync(join(tmpdir(), 'kp-rules-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : /\.(ya?ml|rules)$/.test(f) ? [p] : [];
  });
}

/** kube-prometheus files are PrometheusRule CRs: both tools get `spec` as a plain rule file. */
function candidates(): Array<{ name: string; path: string }> {
  return walk(RULES_DIR).map((p) => {
    const name = relative(RULES_DIR, p);
    if (!name.startsWith('kube-prometheus/')) return { name, path: p };
    const cr = YAML.parse(readFileSync(p, 'utf8')) as { spec: unknown };
    const out = join(tmp, name.replace(/\//g, '_'));
    writeFileSync(out, YAML.stringify(cr.spec));
    return { name: name + ' (spec)', path: out };
  });
}

async function promtoolOk(path: string): Promise<boolean> {
  try {
    await run('promtool', ['check', 'rules', path]);
    return true;
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    // promtool 2.42 exits 0 on lint-only findings; anything else is a failed check.
    return e.code === 0;
  }
}

describe('rule files: kubepulse and promtool agree', () => {
  const files = candidates();
  it('covers every fixture file', () => expect(files.length).toBeGreaterThanOrEqual(28));
  it.each(files)('$name', async ({ path }) => {
    const want = await promtoolOk(path);
    const got = loadRuleFile(path, engineValidator);
    expect({ valid: got.problems.length === 0, problems: got.problems }).toMatchObject({ valid: want });
  });
});

describe('rule file errors', () => {
  it('names file, line and reason for a broken expression', () => {
    const f = fixture('alert-rules', 'promtool-testdata', 'bad-rules-syntax.yml');
    const r = loadRuleFile(f, engineValidator);
    expect(r.problems).toEqual([`${f}:7:15: group "bad-syntax", rule 1, "x": could not parse expression: 1:7: parse error: unexpected end of input`]);
  });

  it('names the undefined template variable', () => {
    const f = fixture('alert-rules', 'promtool-testdata', 'rules-bad.yml');
    const r = loadRuleFile(f, engineValidator);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/rules-bad\.yml:6:9: group "alerts", rule 1, "InstanceDown": annotation "summary": template: __alert_InstanceDown:1: undefined variable "\$label"/);
  });

  it.each<{ name: string; input: string; want: RegExp }>([
    { name: 'unknown rule field', input: 'groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    fore: 5m\n', want: /:6:5: group "g", rule 1, "A": field fore not found/ },
    { name: 'bad duration', input: 'groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    for: 5 minutes\n', want: /:6:10: .*for: not a valid duration string: "5 minutes"/ },
    { name: 'record and alert', input: 'groups:\n- name: g\n  rules:\n  - alert: A\n    record: b\n    expr: up\n', want: /only one of 'record' and 'alert' must be set/ },
    { name: 'annotations on recording rule', input: 'groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: up\n    annotations: {x: y}\n', want: /invalid field 'annotations' in recording rule/ },
    { name: 'bad record name', input: 'groups:\n- name: g\n  rules:\n  - record: "a-b"\n    expr: up\n', want: /invalid recording rule name: a-b/ },
    { name: 'bad label name', input: 'groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels: {"a-b": x}\n', want: /invalid label name: a-b/ },
    { name: 'duplicate group', input: 'groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n', want: /:4:9: groupname: "g" is repeated in the same file/ },
    { name: 'missing expr', input: 'groups:\n- name: g\n  rules:\n  - alert: A\n', want: /field 'expr' must be set in rule/ },
    { name: 'type error the engine catches', input: 'groups:\n- name: g\n  rules:\n  - alert: A\n    expr: rate(up)\n', want: /could not parse expression: .*range vector/ },
    { name: 'yaml syntax', input: 'groups:\n- name: g\n  rules: [\n', want: /:\d+:\d+: yaml: / },
  ])('$name', ({ input, want }) => {
    const r = parseRuleFile('x.yml', input, engineValidator);
    expect(r.problems.join('\n')).toMatch(want);
  });

  it('the lezer fallback validator catches syntax errors too', () => {
    expect(() => lezerExprValidator('test +')).toThrow(/parse error/);
    expect(() => lezerExprValidator('sum by (job) (rate(x[5m])) > 0')).not.toThrow();
  });

  it('refuses a set of files as a whole and lists every problem', () => {
    const good = fixture('alert-rules', 'promtool-testdata', 'rules.yml');
    const bad = fixture('alert-rules', 'promtool-testdata', 'bad-rules-syntax.yml');
    let err: unknown;
    try {
      loadRuleFiles([good, bad], engineValidator);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RuleLoadError);
    expect((err as RuleLoadError).problems).toHaveLength(1);
    expect(loadRuleFiles([good], engineValidator).map((g) => g.name)).toEqual(['alerts', 'rules']);
  });

  it('expands directories and globs', () => {
    const base = fixture('alert-rules');
    expect(expandRulePaths(['monitoring-mixins/*/alerts.yaml'], base).map((p) => relative(base, p))).toEqual([
      'monitoring-mixins/alertmanager/alerts.yaml',
      'monitoring-mixins/kube-state-metrics/alerts.yaml',
      'monitoring-mixins/node-exporter/alerts.yaml',
      'monitoring-mixins/prometheus/alerts.yaml',
    ]);
    expect(expandRulePaths(['monitoring-mixins/**/rules.yaml'], base).map((p) => relative(base, p))).toEqual(['monitoring-mixins/node-exporter/rules.yaml']);
    expect(expandRulePaths(['kubernetes-mixin'], base).map((p) => relative(base, p))).toEqual([
      'kubernetes-mixin/prometheus_alerts.yaml',
      'kubernetes-mixin/prometheus_rules.yaml',
    ]);
  });
});
