/**
 * A runner for Prometheus's promqltest script format (`load`, `clear`, `eval`, `expect`;
 * see fixtures/promql/prometheus-promqltest/README-promqltest.md), over our Engine and
 * SampleStore. Each `eval` is one case: passed, failed (with the reason) or skipped
 * (a feature Prometheus keeps behind a flag or added after 2.x, with the reason).
 */
import type { Label, Labels } from '../../shared/index.js';
import { METRIC_NAME, STALE_NAN, compareLabels, labelsKey, labelsToString, parseDuration, sortLabels } from '../../shared/index.js';
import { matchLabels } from '../../collector/storage/index.js';
import { SampleStore } from './sample-store.js';
import type { Engine, Expr, QueryResult } from '../../collector/promql/index.js';
import { ParseError, parseExpr, walk } from '../../collector/promql/index.js';
import { unquoteString, parseNumber } from '../../collector/promql/parser.js';

export type CaseStatus = 'pass' | 'fail' | 'skip';

export interface CaseResult {
  readonly line: number;
  readonly expr: string;
  readonly status: CaseStatus;
  /** Why it failed or was skipped. */
  readonly reason?: string;
}

/** `undefined` is "no sample" (`_`); STALE a stale marker. */
type Point = number | undefined | typeof STALE;

/**
 * Stands for a stale marker while values sit in JS arrays: V8 canonicalises NaN payloads
 * stored in double arrays, which would turn the marker into a plain NaN.
 */
export const STALE = Symbol('stale');

interface ExpectedSeries {
  labels: Labels;
  points: Point[];
}

interface EvalCase {
  line: number;
  kind: 'instant' | 'range';
  expr: string;
  at: number;
  start: number;
  end: number;
  step: number;
  fail: boolean;
  failMsg?: string;
  failRegex?: RegExp;
  ordered: boolean;
  warn: Array<{ msg?: string; regex?: RegExp }>;
  info: Array<{ msg?: string; regex?: RegExp }>;
  noWarn: boolean;
  noInfo: boolean;
  expectString?: string;
  rangeVector?: { start: number; end: number; step: number };
  series: ExpectedSeries[];
  scalar?: number;
  skip?: string;
}

const NUM = String.raw`[+-]?(?:inf|nan|0x[0-9a-f]+|(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)`;
const RE_NUM = new RegExp(`^${NUM}$`, 'i');
const RE_REPEAT = new RegExp(`^(${NUM})x(\\d+)$`, 'i');
const RE_SERIES = new RegExp(`^(${NUM})([+-])((?:inf|nan|0x[0-9a-f]+|(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:e[+-]?\\d+)?))x(\\d+)$`, 'i');

/** Expands promtool series notation (`1+2x3 _ stale _x2`) into points; throws on unsupported items. */
export function parseValues(text: string): Point[] {
  if (text.includes('{{')) throw new Skip('native histogram sample notation');
  if (/@st|\bst:/.test(text)) throw new Skip('start timestamps (Prometheus 3.x)');
  const out: Point[] = [];
  for (const item of text.trim().split(/\s+/).filter(Boolean)) {
    let m: RegExpExecArray | null;
    if (item === '_') out.push(undefined);
    else if ((m = /^_x(\d+)$/.exec(item))) for (let i = 0; i < Number(m[1]); i++) out.push(undefined);
    else if (item === 'stale') out.push(STALE);
    else if ((m = RE_REPEAT.exec(item))) {
      // `0x59` is "0 repeated", not hex, in series notation.
      const v = parseNumber(m[1]);
      for (let i = 0; i <= Number(m[2]); i++) out.push(v);
    } else if (RE_NUM.test(item)) out.push(parseNumber(item)); else if ((m = RE_SERIES.exec(item))) {
      const a = parseNumber(m[1]);
      const b = parseNumber(m[3]) * (m[2] === '-' ? -1 : 1);
      for (let i = 0; i <= Number(m[4]); i++) out.push(a + b * i);
    } else throw new Error(`bad series value ${JSON.stringify(item)}`);
  }
  return out;
}

class Skip extends Error {}

/** Splits `metric{a="b"} 1 2 3` into labels and the values text. */
export function parseSeriesLine(line: string): { labels: Labels; rest: string } {
  const s = line.trim();
  let i = 0;
  let name = '';
  while (i < s.length && /[a-zA-Z0-9_:]/.test(s[i])) name += s[i++];
  const labels: Label[] = [];
  if (s[i] === '{') {
    i++;
    for (;;) {
      while (s[i] === ' ' || s[i] === ',' || s[i] === '\t') i++;
      if (s[i] === '}') {
        i++;
        break;
      }
      if (i >= s.length) throw new Error(`unterminated label set in ${JSON.stringify(line)}`);
      let lname: string;
      if (s[i] === '"') {
        const end = stringEnd(s, i);
        lname = unquoteString(s.slice(i, end));
        i = end;
        while (s[i] === ' ') i++;
        if (s[i] !== '=') {
          name = lname; // {"metric.name"}
          continue;
        }
      } else {
        lname = '';
        while (i < s.length && /[a-zA-Z0-9_]/.test(s[i])) lname += s[i++];
        while (s[i] === ' ') i++;
      }
      if (s[i] !== '=') throw new Error(`expected '=' in ${JSON.stringify(line)}`);
      i++;
      while (s[i] === ' ') i++;
      const end = stringEnd(s, i);
      labels.push({ name: lname, value: unquoteString(s.slice(i, end)) });
      i = end;
    }
  }
  if (name) labels.push({ name: METRIC_NAME, value: name });
  return { labels: sortLabels(labels.filter((l) => l.value !== '')), rest: s.slice(i) };
}

function stringEnd(s: string, i: number): number {
  const q = s[i];
  let j = i + 1;
  while (j < s.length && s[j] !== q) j += s[j] === '\\' && q !== '`' ? 2 : 1;
  return j + 1;
}

function parseTime(s: string): number {
  if (/^-?\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  if (s.startsWith('-')) return -parseDuration(s.slice(1));
  return parseDuration(s);
}

function expectation(s: string): { msg?: string; regex?: RegExp } {
  const m = /^(msg|regex):\s?(.*)$/.exec(s.trim());
  if (!m) return {};
  return m[1] === 'msg' ? { msg: m[2] } : { regex: new RegExp(m[2]) };
}

/**
 * Files whose every case exercises a feature Prometheus keeps behind a flag or added in
 * 3.x; each of their cases is counted as skipped with this reason.
 */
export const FILE_SKIPS: Readonly<Record<string, string>> = {
  'type_and_unit.test': '__type__/__unit__ labels (type-and-unit-labels feature flag, 3.x)',
  'start_timestamps.test': 'start timestamps (3.x)',
};

const DELAYED_NAME = 'delayed __name__ removal (promql-delayed-name-removal feature flag, 3.x)';

/** Single cases that need a feature flag, by file and line of their `eval`. */
export const CASE_SKIPS: Readonly<Record<string, Readonly<Record<number, string>>>> = {
  'name_label_dropping.test': {
    59: DELAYED_NAME,
    64: DELAYED_NAME,
    69: DELAYED_NAME,
    74: DELAYED_NAME,
    89: DELAYED_NAME,
    115: DELAYED_NAME,
    119: DELAYED_NAME,
    123: DELAYED_NAME,
  },
};

/** Runs one script; returns one result per `eval`. */
export async function runScript(
  text: string,
  engine: Engine,
  fileSkip?: string,
  caseSkips: Readonly<Record<number, string>> = {},
): Promise<CaseResult[]> {
  const lines = text.split('\n');
  let storage = new SampleStore();
  const results: CaseResult[] = [];
  const skippedNames = new Map<string, string>();
  const floatNames = new Set<string>();
  const skippedSeries: Array<{ labels: Labels; reason: string }> = [];
  let i = 0;
  const block = (): Array<{ text: string; line: number }> => {
    const out: Array<{ text: string; line: number }> = [];
    while (i < lines.length && lines[i].trim() !== '') {
      const t = lines[i].trim();
      if (!t.startsWith('#')) out.push({ text: t, line: i + 1 });
      i++;
    }
    return out;
  };
  while (i < lines.length) {
    const raw = lines[i];
    const line = raw.trim();
    const lineNo = i + 1;
    i++;
    if (line === '' || line.startsWith('#')) continue;
    if (line === 'clear') {
      storage = new SampleStore();
      skippedNames.clear();
      floatNames.clear();
      skippedSeries.length = 0;
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^load(_with_nhcb)?\s+(\S+)(?:\s+(.*))?$/.exec(line))) {
      const interval = parseDuration(m[2]);
      const nhcb = m[1] !== undefined || /with_nhcb/.test(m[3] ?? '');
      for (const l of block()) {
        const { labels, rest } = parseSeriesLine(l.text);
        const name = labels.find((x) => x.name === METRIC_NAME)?.value ?? '';
        let values: Point[];
        try {
          values = parseValues(rest);
        } catch (err) {
          if (err instanceof Skip) {
            skippedNames.set(name, err.message);
            skippedSeries.push({ labels, reason: err.message });
            continue;
          }
          throw err;
        }
        floatNames.add(name);
        if (nhcb && name.endsWith('_bucket')) {
          const base = name.slice(0, -'_bucket'.length);
          if (!floatNames.has(base)) skippedNames.set(base, 'native histograms with custom buckets (load_with_nhcb)');
          const nh = labels.filter((x) => x.name !== 'le').map((x) => (x.name === METRIC_NAME ? { name: x.name, value: base } : x));
          skippedSeries.push({ labels: nh, reason: 'native histograms with custom buckets (load_with_nhcb)' });
        }
        values.forEach((v, k) => {
          if (v !== undefined) storage.add(labels, k * interval, v === STALE ? STALE_NAN : v);
        });
      }
      continue;
    }
    const c = parseEval(line, lineNo, block());
    if (!c) throw new Error(`line ${lineNo}: unknown command ${JSON.stringify(line)}`);
    if (fileSkip) c.skip = fileSkip;
    else if (caseSkips[c.line]) c.skip = caseSkips[c.line];
    if (!c.skip) {
      for (const [name, reason] of skippedNames) {
        if (!floatNames.has(name) && new RegExp(`\\b${name.replace(/[^a-zA-Z0-9_:]/g, '.')}\\b`).test(c.expr)) c.skip = reason;
      }
    }
    if (!c.skip && skippedSeries.length) {
      try {
        walk(parseExpr(c.expr), (e) => {
          if (e.kind !== 'VectorSelector' || c.skip) return;
          const hit = skippedSeries.find((s) => matchLabels(e.matchers, s.labels));
          if (hit) c.skip = `reads ${hit.reason} series`;
        });
      } catch {
        // Parse errors are the case's business.
      }
    }
    if (c.skip) {
      results.push({ line: c.line, expr: c.expr, status: 'skip', reason: c.skip });
      continue;
    }
    results.push(await runCase(c, storage, engine));
  }
  return results;
}

function parseEval(line: string, lineNo: number, body: Array<{ text: string; line: number }>): EvalCase | undefined {
  const m = /^eval(_fail|_warn|_info|_ordered)?\s+(instant|range)\s+(.*)$/.exec(line);
  if (!m) return undefined;
  const c: EvalCase = {
    line: lineNo,
    kind: m[2] as 'instant' | 'range',
    expr: '',
    at: 0,
    start: 0,
    end: 0,
    step: 0,
    fail: m[1] === '_fail',
    ordered: m[1] === '_ordered',
    warn: m[1] === '_warn' ? [{}] : [],
    info: m[1] === '_info' ? [{}] : [],
    noWarn: false,
    noInfo: false,
    series: [],
  };
  if (c.kind === 'instant') {
    const im = /^at\s+(\S+)\s+(.*)$/.exec(m[3]);
    if (!im) throw new Error(`line ${lineNo}: bad instant eval`);
    c.at = parseTime(im[1]);
    c.expr = im[2];
  } else {
    const rm = /^from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.*)$/.exec(m[3]);
    if (!rm) throw new Error(`line ${lineNo}: bad range eval`);
    c.start = parseTime(rm[1]);
    c.end = parseTime(rm[2]);
    c.step = parseTime(rm[3]);
    c.expr = rm[4];
  }
  for (const { text } of body) {
    let em: RegExpExecArray | null;
    if ((em = /^expect\s+fail\b(.*)$/.exec(text))) {
      c.fail = true;
      const e = expectation(em[1]);
      if (e.msg !== undefined) c.failMsg = e.msg.replace(/^"(.*)"$/, '$1');
      if (e.regex) c.failRegex = new RegExp(e.regex.source.replace(/^"(.*)"$/, '$1'));
    } else if ((em = /^expected_fail_message\s+(.*)$/.exec(text))) c.failMsg = em[1];
    else if ((em = /^expected_fail_regexp\s+(.*)$/.exec(text))) c.failRegex = new RegExp(em[1]);
    else if ((em = /^expect\s+warn\b(.*)$/.exec(text))) c.warn.push(expectation(em[1]));
    else if ((em = /^expect\s+info\b(.*)$/.exec(text))) c.info.push(expectation(em[1]));
    else if (/^expect\s+no_warn$/.test(text)) c.noWarn = true;
    else if (/^expect\s+no_info$/.test(text)) c.noInfo = true;
    else if (/^expect\s+ordered$/.test(text)) c.ordered = true;
    else if ((em = /^expect\s+string\s+(.*)$/.exec(text))) c.expectString = unquoteString(em[1].trim());
    else if ((em = /^expect\s+range\s+vector\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)$/.exec(text))) {
      c.rangeVector = { start: parseTime(em[1]), end: parseTime(em[2]), step: parseTime(em[3]) };
    } else if (/^expect\b/.test(text)) throw new Error(`line ${lineNo}: unknown expectation ${JSON.stringify(text)}`);
    else if (RE_NUM.test(text) && c.kind === 'instant') c.scalar = parseNumber(text);
    else {
      const { labels, rest } = parseSeriesLine(text);
      try {
        c.series.push({ labels, points: parseValues(rest) });
      } catch (err) {
        if (err instanceof Skip) c.skip = err.message;
        else throw err;
      }
    }
  }
  return c;
}

const EPSILON = 1e-6;

/** Prometheus's `almost.Equal` with promqltest's epsilon; NaN equals NaN. */
function almostEqual(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  const diff = Math.abs(a - b);
  const minNormal = 2.2250738585072014e-308;
  if (a === 0 || b === 0 || diff < minNormal) return diff < EPSILON * minNormal;
  return diff / (Math.abs(a) + Math.abs(b)) < EPSILON;
}

function unsupportedReason(err: unknown): string | undefined {
  if (err instanceof ParseError && /not supported/.test(err.detail)) return err.detail.replace(/ with name "[^"]*"| "[^"]*"/g, '');
  return undefined;
}

/**
 * Annotation positions (`(1:25)`) are not reported by this engine; expectations are
 * compared without them.
 */
function stripPos(s: string): string {
  return s
    .replace(/\s*\(\d+:\d+\)$/, '')
    .replace(/\s*\\\(\d+:\d+\\\)$/, '')
    .replace(/\s*\\\(\[0-9\]\+:\[0-9\]\+\\\)$/, '');
}

async function runCase(c: EvalCase, storage: SampleStore, engine: Engine): Promise<CaseResult> {
  const base = { line: c.line, expr: c.expr };
  let expr: Expr;
  try {
    expr = parseExpr(c.expr);
  } catch (err) {
    const reason = unsupportedReason(err);
    if (reason) return { ...base, status: 'skip', reason };
    return checkFailure(c, err, base);
  }
  let names = false;
  walk(expr, (e) => {
    if (e.kind === 'VectorSelector' && e.matchers.some((m) => m.name === '__type__' || m.name === '__unit__')) names = true;
  });
  if (names) return { ...base, status: 'skip', reason: '__type__/__unit__ labels (type-and-unit-labels feature flag)' };
  let res: QueryResult;
  try {
    res =
      c.kind === 'instant'
        ? await engine.instantQuery(storage, expr, c.at)
        : await engine.rangeQuery(storage, expr, c.start, c.end, c.step);
  } catch (err) {
    return checkFailure(c, err, base);
  }
  if (c.fail) return { ...base, status: 'fail', reason: 'expected an error, query succeeded' };
  const problem = compare(c, res);
  return problem ? { ...base, status: 'fail', reason: problem } : { ...base, status: 'pass' };
}

function checkFailure(c: EvalCase, err: unknown, base: { line: number; expr: string }): CaseResult {
  const msg = err instanceof ParseError ? err.message : (err as Error).message;
  if (!c.fail) return { ...base, status: 'fail', reason: `unexpected error: ${msg}` };
  if (c.failMsg !== undefined && msg !== c.failMsg && !msg.endsWith(c.failMsg)) {
    return { ...base, status: 'fail', reason: `error ${JSON.stringify(msg)}, want ${JSON.stringify(c.failMsg)}` };
  }
  if (c.failRegex && !c.failRegex.test(msg)) {
    return { ...base, status: 'fail', reason: `error ${JSON.stringify(msg)} does not match ${c.failRegex}` };
  }
  return { ...base, status: 'pass' };
}

function checkAnnotations(c: EvalCase, warnings: readonly string[]): string | undefined {
  const warns = warnings.filter((w) => w.startsWith('PromQL warning'));
  const infos = warnings.filter((w) => w.startsWith('PromQL info'));
  for (const [want, got, kind] of [
    [c.warn, warns, 'warn'],
    [c.info, infos, 'info'],
  ] as const) {
    for (const e of want) {
      const ok = got.some((g) => {
        if (e.msg !== undefined) return stripPos(g) === stripPos(e.msg);
        if (e.regex) return new RegExp(stripPos(e.regex.source)).test(g);
        return true;
      });
      if (!ok) return `expected ${kind} annotation ${e.msg ?? e.regex?.source ?? ''}, got ${JSON.stringify(got)}`;
    }
  }
  if (c.noWarn && warns.length) return `unexpected warnings ${JSON.stringify(warns)}`;
  if (c.noInfo && infos.length) return `unexpected infos ${JSON.stringify(infos)}`;
  return undefined;
}

function compare(c: EvalCase, res: QueryResult): string | undefined {
  const ann = checkAnnotations(c, res.warnings);
  if (ann) return ann;
  const v = res.value;
  if (c.expectString !== undefined) {
    if (v.resultType !== 'string') return `got ${v.resultType}, want string`;
    return v.result.v === c.expectString ? undefined : `got string ${JSON.stringify(v.result.v)}`;
  }
  if (v.resultType === 'scalar') {
    const first = c.series.length === 1 && c.series[0].labels.length === 0 ? c.series[0].points[0] : undefined;
    const want = c.scalar ?? (typeof first === 'number' ? first : undefined);
    if (want === undefined) return `got scalar ${v.result.v}, want ${c.series.length} series`;
    return almostEqual(v.result.v, want) ? undefined : `got scalar ${v.result.v}, want ${want}`;
  }
  if (v.resultType === 'string') return 'got a string result';
  const got: Array<{ labels: Labels; t: number[]; v: number[] }> =
    v.resultType === 'vector' ? v.result.map((s) => ({ labels: s.labels, t: [s.t], v: [s.v] })) : v.result;
  if (c.kind === 'instant' && v.resultType === 'vector' && c.scalar !== undefined) return `got a vector, want scalar ${c.scalar}`;
  // Expected timestamps of each point.
  let times: number[];
  if (c.kind === 'range') {
    times = [];
    for (let t = c.start; t <= c.end; t += c.step) times.push(t);
  } else if (c.rangeVector) {
    times = [];
    for (let t = c.rangeVector.start; t <= c.rangeVector.end; t += c.rangeVector.step) times.push(t);
  } else {
    if (v.resultType === 'matrix') return 'got a range vector for an instant query without "expect range vector"';
    times = [c.at];
  }
  const want = new Map(c.series.map((s) => [labelsKey(s.labels), s]));
  if (got.length !== c.series.length || got.some((g) => !want.has(labelsKey(g.labels)))) {
    const gotStr = got.map((g) => labelsToString(g.labels)).sort();
    const wantStr = c.series.map((s) => labelsToString(s.labels)).sort();
    return `series differ: got [${gotStr.join(' ')}], want [${wantStr.join(' ')}]`;
  }
  if (c.ordered && v.resultType === 'vector') {
    for (let k = 0; k < got.length; k++) {
      if (compareLabels(got[k].labels, c.series[k].labels) !== 0) return `order differs at ${k}: got ${labelsToString(got[k].labels)}`;
    }
  }
  for (const g of got) {
    const w = want.get(labelsKey(g.labels))!;
    const pts: Array<[number, number]> = [];
    w.points.forEach((p, k) => {
      if (p !== undefined && p !== STALE && k < times.length) pts.push([times[k], p]);
    });
    if (pts.length !== g.t.length) {
      return `${labelsToString(g.labels)}: got ${g.t.length} points [${g.v.join(' ')}], want ${pts.length} [${pts.map((p) => p[1]).join(' ')}]`;
    }
    for (let k = 0; k < pts.length; k++) {
      if (g.t[k] !== pts[k][0] || !almostEqual(g.v[k], pts[k][1])) {
        return `${labelsToString(g.labels)}: point ${k} got ${g.v[k]}@${g.t[k]}, want ${pts[k][1]}@${pts[k][0]}`;
      }
    }
  }
  return undefined;
}
