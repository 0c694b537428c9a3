/**
 * The chart renderer (test/helm/render) is the oracle of every chart test, so its helm
 * semantics are tested on a small probe chart: values coalescing and --set typing, the
 * template context, include/tpl/required/fail/lookup, .Files, .Capabilities, and the
 * output format of `helm template`.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureRenderer, parseRenderOutput } from './render-chart.js';

const PROBE = join(import.meta.dirname, 'testdata', 'renderer-chart');
const VALUES_A = join(import.meta.dirname, 'testdata', 'renderer-values-a.yaml');

let bin: string;
beforeAll(() => {
  bin = ensureRenderer();
});

function render(...extra: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(bin, ['--chart', PROBE, '--name', 'rel', '--namespace', 'ns', ...extra], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function docs(...extra: string[]): Record<string, Record<string, unknown>> {
  const r = render(...extra);
  expect(r.status, r.stderr).toBe(0);
  return Object.fromEntries(parseRenderOutput(r.stdout).map((d) => [d.source.split('/').pop()!, d.object]));
}

describe('kubepulse-render', () => {
  it('prints helm template output: one # Source per document, empty templates and NOTES.txt left out', () => {
    const r = render();
    expect(r.stdout.startsWith('---\n# Source: probe/templates/context.yaml\n')).toBe(true);
    expect([...r.stdout.matchAll(/^# Source: (.*)$/gm)].map((m) => m[1])).toEqual(['probe/templates/context.yaml', 'probe/templates/values.yaml']);
  });

  it('fills the template context as helm does', () => {
    const c = docs()['context.yaml'];
    expect(c).toMatchObject({
      release: 'rel/ns/Helm/true',
      chart: 'probe/1.2.3/4.5.6',
      template: 'probe/templates/context.yaml probe/templates',
      include: 'probe-rel',
      tpl: 'hello rel',
      kube: 'v1.31.0 31',
      hasApps: true,
      hasCRD: false,
      lookup: {},
      missing: [],
      file: 'file one',
      glob: 'files/one.txt,files/two.txt,',
      toYaml: { b: 1, c: 'keep', d: 'delete-me' },
    });
    expect(docs('--api-versions', 'example.com/v1/Thing', '--kube-version', '1.29.3')['context.yaml']).toMatchObject({ hasCRD: true, kube: 'v1.29.3 29' });
  });

  it('coalesces values.yaml, -f files in order and --set, with null deleting a key', () => {
    const v = docs('-f', VALUES_A, '--set', 'a.b=2,a.d=null,s=007,t=true,n=12,esc=a\\,b', '--set-string', 'str=12')['values.yaml'].values as Record<string, unknown>;
    expect(v).toEqual({
      a: { b: 2, c: 'from-file-a' },
      big: 40000000000,
      greeting: 'hello {{ .Release.Name }}',
      list: ['from-file-a'],
      s: '007',
      t: true,
      n: 12,
      esc: 'a,b',
      str: '12',
      onlyInFile: { nested: true },
    });
  });

  it('--strict fails on a missing value, as helm lint --strict does', () => {
    expect(render().status).toBe(0);
    const r = render('--strict');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/map has no entry for key "nope"/);
  });

  it('--set on a list index replaces the whole list, as helm does', () => {
    expect((docs('--set', 'list[1]=z')['values.yaml'].values as Record<string, unknown>).list).toEqual([null, 'z']);
  });

  it('--dump-values prints the coalesced values', () => {
    const r = render('--dump-values', '--set', 'a.c=x');
    expect(JSON.parse(r.stdout).a).toEqual({ b: 1, c: 'x', d: 'delete-me' });
  });

  it('--notes prints NOTES.txt', () => {
    expect(render('--notes').stdout).toBe('notes for rel\n');
  });

  it.each([
    { name: 'fail', set: 'fail=true', want: /^Error: execution error at \(probe\/templates\/fail\.yaml:1:\d+\): fail was asked for$/m },
    { name: 'required', set: 'require=true', want: /^Error: execution error at \(probe\/templates\/fail\.yaml:2:\d+\): need\.value must be set$/m },
    { name: 'bad --set', set: 'a.=1', want: /^Error: failed parsing --set data: key "a\.": empty key segment$/m },
  ])('$name: exits 1 with helm\'s message', ({ set, want }) => {
    const r = render('--set', set);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(want);
  });

  it('reads values as helm does: numbers through JSON, so toYaml keeps large integers whole', () => {
    const r = render('--set', 'x=1');
    const text = r.stdout.split('# Source: probe/templates/values.yaml\n')[1];
    expect(YAML.parse(text).values.big).toBe(40000000000);
  });
});
