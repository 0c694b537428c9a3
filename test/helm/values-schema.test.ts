/**
 * values.schema.json (draft-07, as helm validates it): it accepts values.yaml and every
 * ci/*-values.yaml once coalesced, rejects bad values naming the key, describes every
 * property and closes every chart-owned object. Also checks the values.yaml conventions
 * (schema pointer on line 1, a comment above every chart-owned key) and that the chart
 * README documents every value.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHART_DIR, ciValuesFiles, ensureRenderer, mergedValues } from './render-chart.js';
import { TABLE_END, TABLE_START, ownedKeys, valuesTable } from './values-table.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8'));
const valuesText = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8');
const BAD_DIR = join(import.meta.dirname, 'testdata', 'bad-values');

// strict: an unknown keyword in the schema is an error, not silently ignored.
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validate = ajv.compile(schema);

/** One line per problem, naming the dotted key, the way helm users read them. */
function describeErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const path = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (e.keyword === 'additionalProperties') return `unknown key "${[...path, (e.params as any).additionalProperty].join('.')}"`;
    if (e.keyword === 'propertyNames') return `key "${[...path, (e.params as any).propertyName].join('.')}": invalid name`;
    return `key "${path.join('.') || '(top level)'}": ${e.message}`;
  });
}

function check(values: unknown): string[] {
  return validate(values) ? [] : describeErrors(validate.errors);
}

/** Resolves a local $ref. */
function deref(node: any): any {
  if (node && typeof node.$ref === 'string') {
    const parts = node.$ref.replace(/^#\//, '').split('/');
    return parts.reduce((o: any, p: string) => o[p], schema);
  }
  return node;
}

beforeAll(() => {
  ensureRenderer();
});

describe('values.schema.json', () => {
  it('is draft-07 and compiles in strict mode', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(typeof validate).toBe('function');
  });

  it('describes every property and closes every object the chart owns', () => {
    const undescribed: string[] = [];
    const open: string[] = [];
    const walk = (node: any, path: string): void => {
      if (!node || typeof node !== 'object') return;
      if (node.properties) {
        // Objects with declared properties are the chart's own: closed, unless they are
        // documented pass-throughs (Alertmanager's route and receivers).
        const passThrough = /route|receivers/.test(path);
        if (node.additionalProperties !== false && !passThrough) open.push(path || '(top level)');
        for (const [k, v] of Object.entries<any>(node.properties)) {
          if (typeof v.description !== 'string' || v.description.length < 5) undescribed.push(`${path}.${k}`);
          walk(v, `${path}.${k}`);
        }
      }
      if (node.items) walk(node.items, `${path}[]`);
      for (const k of ['anyOf', 'oneOf', 'allOf'] as const) for (const [i, s] of (node[k] ?? []).entries()) walk(s, `${path}<${k}${i}>`);
      if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}.*`);
    };
    walk(schema, '');
    for (const [k, v] of Object.entries<any>(schema.definitions)) walk(v, `#${k}`);
    expect(undescribed).toEqual([]);
    expect(open).toEqual([]);
  });

  it('accepts values.yaml', () => {
    expect(check(YAML.parse(valuesText))).toEqual([]);
  });

  it.each(ciValuesFiles())('accepts ci/%s coalesced with values.yaml', (f) => {
    const merged = mergedValues({ valuesFiles: [`ci/${f}`] });
    expect(check(merged)).toEqual([]);
  });

  const BAD: Array<{ name: string; file: string; want: string }> = [
    { name: 'unknown top-level key', file: 'unknown-top-level-key.yaml', want: 'unknown key "agnet"' },
    { name: 'unknown agent key', file: 'unknown-agent-key.yaml', want: 'unknown key "agent.intervall"' },
    { name: 'port as a string', file: 'port-as-string.yaml', want: 'key "collector.port": must be integer' },
    { name: 'retention not a duration', file: 'bad-retention.yaml', want: 'key "collector.config.storage.retention": must match pattern' },
    { name: 'pull policy outside the enum', file: 'bad-pull-policy.yaml', want: 'key "image.pullPolicy": must be equal to one of the allowed values' },
    { name: 'spool type outside the enum', file: 'bad-spool-type.yaml', want: 'key "agent.spool.type": must be equal to one of the allowed values' },
    { name: 'boolean as a string', file: 'host-network-as-string.yaml', want: 'key "agent.hostNetwork": must be boolean' },
    { name: 'size in GB', file: 'bad-persistence-size.yaml', want: 'key "collector.persistence.size": must match pattern' },
    { name: 'config key at the wrong level', file: 'config-key-at-wrong-level.yaml', want: 'unknown key "collector.config.retention"' },
    { name: 'rule file name with capitals', file: 'bad-rule-file-name.yaml', want: 'key "collector.rules.extra.Team_A": invalid name' },
    { name: 'service type outside the enum', file: 'bad-service-type.yaml', want: 'key "collector.service.type": must be equal to one of the allowed values' },
    { name: 'misspelt security context field', file: 'misspelt-security-context.yaml', want: 'unknown key "agent.securityContext.readOnlyRootFileSystem"' },
    { name: 'empty cluster label', file: 'empty-cluster.yaml', want: 'key "global.cluster": must NOT have fewer than 1 characters' },
    { name: 'log level outside the enum', file: 'bad-log-level.yaml', want: 'key "collector.config.log_level": must be equal to one of the allowed values' },
  ];

  it('has a case for every bad values file', () => {
    expect(BAD.map((b) => b.file).sort()).toEqual(readdirSync(BAD_DIR).sort());
  });

  it.each(BAD)('rejects $name, naming the key', ({ file, want }) => {
    const merged = mergedValues({ valuesFiles: [join(BAD_DIR, file)] });
    expect(check(merged).join('\n')).toContain(want);
  });
});

describe('values.yaml conventions', () => {
  it('points the editor at the schema on line 1', () => {
    expect(valuesText.split('\n')[0]).toBe('# yaml-language-server: $schema=values.schema.json');
  });

  it('has a comment above every key the chart owns', () => {
    const keys = ownedKeys(valuesText, schema);
    expect(keys.length).toBeGreaterThan(100);
    expect(keys.filter((k) => k.comments.filter((c) => !c.startsWith('Ref:')).length === 0).map((k) => k.path)).toEqual([]);
  });

  it('the chart README documents every value: its table equals the one generated from values.yaml', () => {
    const readmePath = join(CHART_DIR, 'README.md');
    const readme = readFileSync(readmePath, 'utf8');
    const a = readme.indexOf(TABLE_START);
    const b = readme.indexOf(TABLE_END);
    expect(a, `README.md needs the markers ${TABLE_START} ... ${TABLE_END}`).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a);
    const table = valuesTable(ownedKeys(valuesText, schema));
    const want = `${readme.slice(0, a)}${TABLE_START}\n${table}\n${readme.slice(b)}`;
    if (process.env.KUBEPULSE_UPDATE_README === '1') writeFileSync(readmePath, want);
    expect(readFileSync(readmePath, 'utf8'), 'README values table is stale: run KUBEPULSE_UPDATE_README=1 npx vitest run test/helm/values-schema.test.ts').toBe(want);
    for (const k of ownedKeys(valuesText, schema)) expect(readme.includes('`' + k.path + '`') || process.env.KUBEPULSE_UPDATE_README === '1', k.path).toBe(true);
  });

  it('has no key that only the schema knows at the top two levels', () => {
    const values = YAML.parse(valuesText);
    const missing: string[] = [];
    for (const [k, v] of Object.entries<any>(schema.properties)) {
      if (!(k in values)) missing.push(k);
      const node = deref(v);
      if (node.properties && node.additionalProperties === false) {
        for (const k2 of Object.keys(node.properties)) if (!(k2 in (values[k] ?? {}))) missing.push(`${k}.${k2}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
