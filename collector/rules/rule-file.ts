/**
 * Prometheus rule files: parsing, strict validation as `promtool check rules` does it,
 * and path/glob expansion. A file with any problem is refused as a whole; every problem
 * is reported with the file, line, column and reason.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, isAbsolute, dirname, basename } from 'node:path';
import YAML, { LineCounter, isMap, isSeq, isScalar, type Node as YamlNode, type YAMLMap, type Pair } from 'yaml';
import { KubepulseError, isValidLabelName, isValidMetricName, parseDuration } from '../../shared/index.js';
import { Template } from './template.js';
import type { ExprValidator } from './types.js';

export interface RuleSpec {
  readonly kind: 'alert' | 'record';
  /** The alert name or the recorded metric name. */
  readonly name: string;
  readonly expr: string;
  readonly forMs: number;
  readonly keepFiringForMs: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly file: string;
  readonly line: number;
}

export interface GroupSpec {
  readonly name: string;
  readonly file: string;
  /** Evaluation interval (ms); undefined means the global `evaluation_interval`. */
  readonly intervalMs?: number;
  /** Alerts/series per evaluation above which the evaluation fails; 0 = no limit. */
  readonly limit: number;
  readonly queryOffsetMs: number;
  /** Labels added to every rule of the group (Prometheus 3 `labels:` on groups). */
  readonly labels: Readonly<Record<string, string>>;
  readonly rules: readonly RuleSpec[];
}

/** Rule files were refused; `problems` lists each as `file:line:col: reason`. */
export class RuleLoadError extends KubepulseError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('KP_ERR_RULE_FILE', `loading rule files:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

const GROUP_KEYS = new Set(['name', 'interval', 'query_offset', 'limit', 'labels', 'rules']);
const RULE_KEYS = new Set(['record', 'alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']);

/**
 * Parses and validates one rule file's text. Returns the groups, or every problem found;
 * `validate` checks each expression (the PromQL parser).
 */
export function parseRuleFile(
  file: string,
  text: string,
  validate: ExprValidator,
): { groups: GroupSpec[]; problems: string[] } {
  const lc = new LineCounter();
  const problems: string[] = [];
  const at = (n: YamlNode | null | undefined): string => {
    if (!n?.range) return `${file}`;
    const p = lc.linePos(n.range[0]);
    return `${file}:${p.line}:${p.col}`;
  };
  const lineOf = (n: YamlNode | null | undefined): number => (n?.range ? lc.linePos(n.range[0]).line : 0);
  const doc = YAML.parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) {
    for (const e of doc.errors) {
      const p = lc.linePos(e.pos[0]);
      problems.push(`${file}:${p.line}:${p.col}: yaml: ${e.message.split('\n')[0]}`);
    }
    return { groups: [], problems };
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) return { groups: [], problems };
  if (!isMap(root)) return { groups: [], problems: [`${at(root)}: yaml: rule file must be a map with a "groups" key`] };
  for (const pair of root.items) {
    const k = keyOf(pair);
    if (k !== 'groups') problems.push(`${at(pair.key as YamlNode)}: field ${k} not found in type rulefmt.RuleGroups`);
  }
  const groupsNode = root.get('groups', true) as YamlNode | undefined;
  const groups: GroupSpec[] = [];
  if (groupsNode === undefined || (isScalar(groupsNode) && groupsNode.value === null)) return { groups, problems };
  if (!isSeq(groupsNode)) return { groups, problems: [...problems, `${at(groupsNode)}: "groups" must be a list`] };
  const seen = new Set<string>();
  for (const g of groupsNode.items as YamlNode[]) {
    if (!isMap(g)) {
      problems.push(`${at(g)}: a group must be a map`);
      continue;
    }
    for (const pair of g.items) {
      const k = keyOf(pair);
      if (!GROUP_KEYS.has(k)) problems.push(`${at(pair.key as YamlNode)}: field ${k} not found in type rulefmt.RuleGroup`);
    }
    const name = str(g, 'name');
    if (!name) problems.push(`${at(g)}: groupname must not be empty`);
    else if (seen.has(name)) problems.push(`${at(g.get('name', true) as YamlNode)}: groupname: "${name}" is repeated in the same file`);
    seen.add(name);
    const intervalMs = durationField(g, 'interval', problems, at);
    const queryOffsetMs = durationField(g, 'query_offset', problems, at) ?? 0;
    const limitNode = g.get('limit', true) as YamlNode | undefined;
    let limit = 0;
    if (limitNode !== undefined) {
      const v = isScalar(limitNode) ? Number(limitNode.value) : NaN;
      if (!Number.isInteger(v) || v < 0) problems.push(`${at(limitNode)}: limit must be a non-negative integer`);
      else limit = v;
    }
    const groupLabels = stringMap(g, 'labels', problems, at, 'label');
    const rulesNode = g.get('rules', true) as YamlNode | undefined;
    const rules: RuleSpec[] = [];
    if (rulesNode !== undefined && !(isScalar(rulesNode) && rulesNode.value === null)) {
      if (!isSeq(rulesNode)) problems.push(`${at(rulesNode)}: "rules" must be a list`);
      else {
        (rulesNode.items as YamlNode[]).forEach((r, idx) => {
          const rule = parseRule(r, idx + 1, name, file, validate, problems, at, lineOf);
          if (rule) rules.push(rule);
        });
      }
    }
    groups.push({ name, file, intervalMs, limit, queryOffsetMs, labels: groupLabels, rules });
  }
  return { groups, problems };
}

function keyOf(pair: Pair): string {
  const k = pair.key;
  return isScalar(k) ? String(k.value) : String(k);
}

function str(m: YAMLMap, key: string): string {
  const v = m.get(key, true) as YamlNode | undefined;
  if (v === undefined || !isScalar(v) || v.value === null) return '';
  return String(v.value);
}

type At = (n: YamlNode | null | undefined) => string;

function durationField(m: YAMLMap, key: string, problems: string[], at: At): number | undefined {
  const n = m.get(key, true) as YamlNode | undefined;
  if (n === undefined || (isScalar(n) && n.value === null)) return undefined;
  const s = isScalar(n) ? String(n.value) : '';
  try {
    return parseDuration(s);
  } catch {
    problems.push(`${at(n)}: ${key}: not a valid duration string: ${JSON.stringify(s)}`);
    return undefined;
  }
}

function stringMap(m: YAMLMap, key: string, problems: string[], at: At, what: string): Record<string, string> {
  const n = m.get(key, true) as YamlNode | undefined;
  const out: Record<string, string> = {};
  if (n === undefined || (isScalar(n) && n.value === null)) return out;
  if (!isMap(n)) {
    problems.push(`${at(n)}: ${key} must be a map of strings`);
    return out;
  }
  for (const pair of n.items) {
    const k = keyOf(pair);
    const v = pair.value as YamlNode | null;
    if (!isValidLabelName(k)) problems.push(`${at(pair.key as YamlNode)}: invalid ${what} name: ${k}`);
    if (v !== null && !isScalar(v)) problems.push(`${at(v)}: ${what} ${k} must be a string`);
    out[k] = v === null || !isScalar(v) || v.value === null ? '' : String(v.value);
  }
  return out;
}

function parseRule(
  r: YamlNode,
  index: number,
  group: string,
  file: string,
  validate: ExprValidator,
  problems: string[],
  at: At,
  lineOf: (n: YamlNode | null | undefined) => number,
): RuleSpec | undefined {
  if (!isMap(r)) {
    problems.push(`${at(r)}: group "${group}", rule ${index}: a rule must be a map`);
    return undefined;
  }
  const record = str(r, 'record');
  const alert = str(r, 'alert');
  const name = record || alert;
  const where = (n: YamlNode | null | undefined) => `${at(n ?? r)}: group "${group}", rule ${index}, "${name}"`;
  const before = problems.length;
  for (const pair of r.items) {
    const k = keyOf(pair);
    if (!RULE_KEYS.has(k)) problems.push(`${where(pair.key as YamlNode)}: field ${k} not found in type rulefmt.Rule`);
  }
  if (record && alert) problems.push(`${where(r)}: only one of 'record' and 'alert' must be set`);
  if (!record && !alert) problems.push(`${where(r)}: one of 'record' or 'alert' must be set`);
  const exprNode = r.get('expr', true) as YamlNode | undefined;
  const expr = str(r, 'expr');
  if (!expr.trim()) problems.push(`${where(r)}: field 'expr' must be set in rule`);
  else {
    try {
      validate(expr);
    } catch (err) {
      problems.push(`${where(exprNode)}: could not parse expression: ${(err as Error).message}`);
    }
  }
  const forMs = durationField(r, 'for', problems, where) ?? 0;
  const keepFiringForMs = durationField(r, 'keep_firing_for', problems, where) ?? 0;
  const labels = stringMap(r, 'labels', problems, where, 'label');
  const annotations = stringMap(r, 'annotations', problems, where, 'annotation');
  if (record) {
    if (r.has('annotations')) problems.push(`${where(r)}: invalid field 'annotations' in recording rule`);
    if (r.has('for')) problems.push(`${where(r)}: invalid field 'for' in recording rule`);
    if (r.has('keep_firing_for')) problems.push(`${where(r)}: invalid field 'keep_firing_for' in recording rule`);
    if (!isValidMetricName(record)) problems.push(`${where(r.get('record', true) as YamlNode)}: invalid recording rule name: ${record}`);
  }
  if (alert) {
    // Prometheus checks templates of alerting rules only; they are expanded per alert.
    const tmplName = `__alert_${alert}`;
    for (const [kind, map] of [
      ['label', labels],
      ['annotation', annotations],
    ] as const) {
      for (const [k, v] of Object.entries(map)) {
        try {
          Template.parse(tmplName, v);
        } catch (err) {
          problems.push(`${where(r)}: ${kind} "${k}": ${(err as Error).message}`);
        }
      }
    }
  }
  for (const k of Object.keys(labels)) {
    if (k === '__name__') problems.push(`${where(r)}: invalid label name: ${k}`);
  }
  if (problems.length > before) return undefined;
  return {
    kind: alert ? 'alert' : 'record',
    name,
    expr,
    forMs,
    keepFiringForMs,
    labels,
    annotations,
    file,
    line: lineOf(r),
  };
}

/** Reads, parses and validates one file. */
export function loadRuleFile(file: string, validate: ExprValidator): { groups: GroupSpec[]; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { groups: [], problems: [`${file}: ${(err as Error).message}`] };
  }
  return parseRuleFile(file, text, validate);
}

/**
 * Expands `rule_files` entries: plain paths, directories (their `*.yml`/`*.yaml`/`*.rules`
 * files) and globs with `*`, `?` and `**`. Relative entries resolve against `baseDir`.
 * Sorted, without duplicates. A plain path that does not exist is returned as-is so the
 * loader reports it.
 */
export function expandRulePaths(patterns: readonly string[], baseDir = process.cwd()): string[] {
  const out = new Set<string>();
  for (const p of patterns) {
    const abs = isAbsolute(p) ? p : resolve(baseDir, p);
    if (!/[*?[]/.test(abs)) {
      let st;
      try {
        st = statSync(abs);
      } catch {
        out.add(abs);
        continue;
      }
      if (st.isDirectory()) {
        for (const f of readdirSync(abs).sort()) if (/\.(ya?ml|rules)$/.test(f)) out.add(join(abs, f));
      } else out.add(abs);
      continue;
    }
    for (const f of globFiles(abs)) out.add(f);
  }
  return [...out].sort();
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function globFiles(pattern: string): string[] {
  // Walk from the longest wildcard-free directory prefix.
  const parts = pattern.split('/');
  const firstWild = parts.findIndex((s) => /[*?[]/.test(s));
  const root = parts.slice(0, firstWild).join('/') || '/';
  const re = globToRegExp(pattern);
  const deep = pattern.includes('**');
  const maxDepth = deep ? 32 : parts.length - firstWild;
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const full = join(dir, e);
      let st;
      try {
        st = statSync(full);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (depth + 1 < maxDepth) walk(full, depth + 1);
      } else if (re.test(full)) found.push(full);
    }
  };
  walk(root, 0);
  return found;
}

/**
 * Loads every file that `patterns` expand to. Throws {@link RuleLoadError} listing every
 * problem of every file when any file is bad, so nothing of a broken set is applied.
 * Group names must be unique per file (as in Prometheus); the same name in two files is fine.
 */
export function loadRuleFiles(patterns: readonly string[], validate: ExprValidator, baseDir?: string): GroupSpec[] {
  const groups: GroupSpec[] = [];
  const problems: string[] = [];
  for (const f of expandRulePaths(patterns, baseDir)) {
    const r = loadRuleFile(f, validate);
    groups.push(...r.groups);
    problems.push(...r.problems);
  }
  if (problems.length) throw new RuleLoadError(problems);
  return groups;
}

/** The directory and name of a rule file, for display. */
export function describeFile(f: string): string {
  return `${basename(dirname(f))}/${basename(f)}`;
}
