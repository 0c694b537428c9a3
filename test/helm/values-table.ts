/**
 * The chart README's values table, generated from values.yaml (the comment above each key
 * and its default) and values.schema.json (which keys the chart owns: descent stops at
 * pass-through blocks). The values-schema test keeps README.md equal to it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML, { isMap, isScalar, type Pair } from 'yaml';
import { CHART_DIR } from './render-chart.js';

export const TABLE_START = '<!-- values-table:start (generated from values.yaml by test/helm/values-table.ts) -->';
export const TABLE_END = '<!-- values-table:end -->';

/** A key the chart owns, with its dotted path and the offset of the key in values.yaml. */
export interface OwnedKey {
  readonly path: string;
  readonly offset: number;
  /** The comment lines right above the key, at its indentation, without `#`. */
  readonly comments: readonly string[];
  /** The default as compact JSON; undefined for chart-owned objects (their keys follow). */
  readonly defaultJson?: string;
}

// A commented-out example looks like YAML: `- name: x` or `key: value`.
const EXAMPLE = /^(-\s|[a-z][\w./-]*:(\s|$))/;

/** Every key the chart owns in values.yaml, in file order. */
export function ownedKeys(valuesText = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8'), schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8'))): OwnedKey[] {
  const lines = valuesText.split('\n');
  const lineOf = (offset: number) => valuesText.slice(0, offset).split('\n').length - 1;
  const doc = YAML.parseDocument(valuesText);
  const out: OwnedKey[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const walk = (map: unknown, node: any, prefix: string): void => {
    if (!isMap(map)) return;
    for (const pair of map.items as Pair[]) {
      if (!isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      const path = prefix ? `${prefix}.${key}` : key;
      const offset = pair.key.range![0];
      const ln = lineOf(offset);
      const indent = lines[ln].length - lines[ln].trimStart().length;
      const comments: string[] = [];
      for (let p = ln - 1; p >= 0; p--) {
        const l = lines[p];
        if (!l.trimStart().startsWith('#') || l.length - l.trimStart().length !== indent) break;
        const c = l.trim().replace(/^#+\s?/, '');
        if (!c.startsWith('Ref:') && EXAMPLE.test(c)) break;
        comments.unshift(c);
      }
      const child = node?.properties?.[key];
      const owned = child && !child.$ref && child.additionalProperties === false && isMap(pair.value);
      const value = (pair.value as { toJSON?: () => unknown } | null)?.toJSON?.() ?? null;
      out.push({ path, offset, comments, defaultJson: owned ? undefined : JSON.stringify(value) });
      if (owned) walk(pair.value, child, path);
    }
  };
  walk(doc.contents, schema, '');
  return out;
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** The Markdown table: key, description (with its Ref link), default. */
export function valuesTable(keys: readonly OwnedKey[] = ownedKeys()): string {
  const rows = keys.map((k) => {
    const desc = k.comments.filter((c) => !c.startsWith('Ref:')).join(' ');
    const ref = k.comments.find((c) => c.startsWith('Ref:'));
    const link = ref ? ` ([ref](${ref.slice(4).trim()}))` : '';
    const def = k.defaultJson === undefined ? '' : '`' + cell(k.defaultJson) + '`';
    return `| \`${k.path}\` | ${cell(desc)}${link} | ${def} |`;
  });
  return ['| Key | Description | Default |', '|---|---|---|', ...rows].join('\n');
}
