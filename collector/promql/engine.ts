/**
 * The PromQL engine: evaluates parsed expressions over a {@link Queryable} with
 * Prometheus's semantics (lookback, staleness, offset/@, subqueries, limits).
 *
 * Series are selected once per query (one `select` per selector, over the union of the
 * times the query needs); the tree is then evaluated step by step, with per-series
 * cursors so a range query walks each series once.
 */
import type { Registry } from 'prom-client';
import type { Labels, Logger } from '../../shared/index.js';
import { METRIC_NAME, compareLabels, isStaleNaN, noopLogger } from '../../shared/index.js';
import type { Queryable, Querier, Series } from '../storage/index.js';
import type { AggregateExpr, AtModifier, BinaryExpr, Call, Expr, MatrixSelector, SubqueryExpr, VectorSelector } from './ast.js';
import { COMPARISON_OPS, childrenOf, exprType, walk } from './ast.js';
import { ParseError, parseExpr, documentedType } from './parser.js';
import type { Matrix, QueryResult, QueryValue, Sample, Vector } from './value.js';
import { QueryError, timeoutError, tooManySamplesError } from './value.js';
import type { RangeInfo, Window } from './functions.js';
import {
  RANGE_FUNCTIONS,
  checkDuplicates,
  dropName,
  elementFunction,
  histogramQuantile,
  isDateFunction,
  labelJoin,
  labelReplace,
} from './functions.js';
import { aggregate } from './aggregate.js';
import { keyOf } from './label-cache.js';
import type { EngineMetrics } from './metrics.js';
import { createEngineMetrics } from './metrics.js';
import { scalarBinop, setBinop, vectorBinop, vectorScalarBinop } from './binary.js';

export interface EngineOptions {
  /** How far back an instant selector looks for a sample; default 5 minutes. */
  lookbackDeltaMs?: number;
  /** Wall-clock limit of one query; default 2 minutes. Exceeding it is a `timeout` error. */
  timeoutMs?: number;
  /** Most samples one query may hold; default 50 million. Exceeding it is an `execution` error. */
  maxSamples?: number;
  /** Subquery resolution when the query gives none (Prometheus: the global evaluation interval); default 1 minute. */
  noStepSubqueryIntervalMs?: number;
  /** Queries evaluated at once; more wait in line (their wait counts toward the timeout). Default 20. */
  maxConcurrent?: number;
  /** Registry for the `kubepulse_promql_*` self-metrics; a private one when absent. */
  registry?: Registry;
  /**
   * Which Prometheus major version's semantics to follow where they differ. `'v2'`
   * (default, what the differential tests check against 2.42): lookback and range windows
   * include their start (`[t-range, t]`). `'v3'`: windows are left-open (`(t-range, t]`),
   * subquery steps exclude the window start, and rate/increase extrapolation caps at half
   * a sample interval before cutting at the counter's zero point.
   */
  compat?: 'v2' | 'v3';
  logger?: Logger;
  /** Clock for timeouts; tests inject it. */
  now?: () => number;
}

/** Per-query settings. */
export interface QueryOptions {
  /** Lowers the engine's timeout for this query (the API's `timeout` parameter), ms. */
  timeoutMs?: number;
}

/**
 * Evaluates PromQL. Stateless between queries and safe to share; each query runs to
 * completion synchronously inside the returned promise (so a timeout is checked between
 * steps, not preemptively).
 */
export class Engine {
  readonly lookbackDeltaMs: number;
  readonly timeoutMs: number;
  readonly maxSamples: number;
  readonly noStepSubqueryIntervalMs: number;
  readonly compat: 'v2' | 'v3';
  readonly maxConcurrent: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly metrics: EngineMetrics;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** @internal Results of subexpressions shared between instant queries; see {@link SubtreeMemo}. */
  readonly subtrees = new SubtreeMemo();

  constructor({
    lookbackDeltaMs = 5 * 60_000,
    timeoutMs = 2 * 60_000,
    maxSamples = 50_000_000,
    noStepSubqueryIntervalMs = 60_000,
    compat = 'v2',
    maxConcurrent = 20,
    registry,
    logger,
    now = Date.now,
  }: EngineOptions = {}) {
    if (!(Number.isInteger(maxConcurrent) && maxConcurrent > 0)) throw new RangeError(`maxConcurrent must be a positive integer, got ${maxConcurrent}`);
    this.maxConcurrent = maxConcurrent;
    this.metrics = createEngineMetrics(registry);
    if (!(lookbackDeltaMs > 0)) throw new RangeError(`lookbackDeltaMs must be > 0, got ${lookbackDeltaMs}`);
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`);
    if (!(maxSamples > 0)) throw new RangeError(`maxSamples must be > 0, got ${maxSamples}`);
    if (!(noStepSubqueryIntervalMs > 0)) throw new RangeError(`noStepSubqueryIntervalMs must be > 0, got ${noStepSubqueryIntervalMs}`);
    this.lookbackDeltaMs = lookbackDeltaMs;
    this.timeoutMs = timeoutMs;
    this.maxSamples = maxSamples;
    this.noStepSubqueryIntervalMs = noStepSubqueryIntervalMs;
    if (compat !== 'v2' && compat !== 'v3') throw new RangeError(`compat must be 'v2' or 'v3', got ${String(compat)}`);
    this.compat = compat;
    this.log = (logger ?? noopLogger()).child({ component: 'promql' });
    this.now = now;
  }

  /**
   * Evaluates `expr` at time `t` (ms). Rejects with ParseError (bad query) or QueryError
   * (`execution`, `timeout`).
   */
  async instantQuery(queryable: Queryable, expr: string | Expr, t: number, opts: QueryOptions = {}): Promise<QueryResult> {
    return this.measured('instant', () => {
      const e = typeof expr === 'string' ? parseExpr(expr) : expr;
      return this.exec(queryable, e, t, t, 0, opts);
    });
  }

  /**
   * Evaluates `expr` at start, start+step, … ≤ end (ms). The expression must yield an
   * instant vector or a scalar (else a `bad_data` QueryError); the result is a matrix
   * sorted by labels.
   */
  async rangeQuery(
    queryable: Queryable,
    expr: string | Expr,
    start: number,
    end: number,
    step: number,
    opts: QueryOptions = {},
  ): Promise<QueryResult> {
    return this.measured('range', () => {
      const e = typeof expr === 'string' ? parseExpr(expr) : expr;
      const t = exprType(e);
      if (t !== 'vector' && t !== 'scalar') {
        throw new QueryError('bad_data', `invalid expression type "${documentedType(t)}" for range query, must be Scalar or instant Vector`);
      }
      if (!(step > 0)) throw new QueryError('bad_data', 'zero or negative query resolution step widths are not accepted');
      if (end < start) throw new QueryError('bad_data', 'end timestamp must not be before start time');
      return this.exec(queryable, e, start, end, step, opts);
    });
  }

  /** Counts and times a query; the body runs once a concurrency slot is free. */
  private async measured(kind: 'instant' | 'range', body: () => Promise<QueryResult>): Promise<QueryResult> {
    const began = performance.now();
    let outcome = 'ok';
    try {
      const r = await body();
      this.metrics.samples.inc(r.samples);
      return r;
    } catch (err) {
      outcome = err instanceof ParseError ? 'bad_data' : err instanceof QueryError ? err.errorType : 'internal';
      throw err;
    } finally {
      this.metrics.queries.inc({ kind, outcome });
      this.metrics.duration.observe({ kind }, (performance.now() - began) / 1000);
    }
  }

  private async acquire(deadline: number): Promise<void> {
    if (this.running < this.maxConcurrent) {
      this.running++;
      return;
    }
    this.metrics.queued.inc();
    try {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } finally {
      this.metrics.queued.dec();
    }
    // The slot was handed over by release(); give it back if the wait used up the time.
    if (this.now() > deadline) {
      this.release();
      throw timeoutError('queue');
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  private async exec(queryable: Queryable, e: Expr, start: number, end: number, step: number, opts: QueryOptions): Promise<QueryResult> {
    const began = this.now();
    const timeout = Math.min(this.timeoutMs, opts.timeoutMs ?? Infinity);
    await this.acquire(began + timeout);
    this.metrics.running.inc();
    const ev = new Evaluator(this, start, end, step, began + timeout, this.now);
    if (step === 0 && (queryable as { stableSeriesIdentity?: unknown }).stableSeriesIdentity === true) ev.shareSubtrees(e);
    const queriers: Querier[] = [];
    try {
      ev.select(queryable, e, queriers);
      ev.checkDeadline();
      const value = step === 0 ? ev.instant(e) : await ev.range(e);
      const took = this.now() - began;
      if (took > 1000) this.log.debug({ tookMs: took, samples: ev.samples }, 'slow query');
      return { value, warnings: [...ev.warnings], samples: ev.samples };
    } finally {
      for (const q of queriers) q.close();
      this.metrics.running.dec();
      this.release();
    }
  }
}

/** Memo bounds: entries, and samples held (results plus the input samples they pin). */
const SUBTREE_MEMO_ENTRIES = 1000;
const SUBTREE_MEMO_SAMPLES = 4_000_000;

/**
 * Instant-vector results of subexpressions, shared between instant queries over a store
 * whose `select` answers the very same Series objects again while their data is unchanged
 * (and never modifies them): the TSDB does, from its select cache. Rules repeated with
 * other thresholds (`max by (pod) (x) / … > 0.9`, `… > 0.95`) evaluate the expensive part
 * once per round. An entry is used only when every selector of the subexpression got
 * element-for-element the same Series objects as when it was computed, at the same time.
 */
export class SubtreeMemo {
  private readonly entries = new Map<string, { inputs: ReadonlyArray<readonly Series[]>; out: Vector; size: number }>();
  private samples = 0;

  get(key: string, inputs: ReadonlyArray<readonly Series[]>): Vector | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    for (let i = 0; i < inputs.length; i++) {
      const a = inputs[i];
      const b = e.inputs[i];
      if (a === b) continue; // one read-only answer (see answerSamples)
      if (a.length !== b.length) return undefined;
      for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return undefined;
    }
    return e.out;
  }

  set(key: string, inputs: ReadonlyArray<readonly Series[]>, out: Vector): void {
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.samples -= old.size;
    }
    let size = out.length;
    for (const ss of inputs) size += answerSamples(ss);
    if (size > SUBTREE_MEMO_SAMPLES / 4) return;
    this.entries.set(key, { inputs, out, size });
    this.samples += size;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= SUBTREE_MEMO_ENTRIES && this.samples <= SUBTREE_MEMO_SAMPLES) break;
      this.entries.delete(k);
      this.samples -= e.size;
    }
  }
}

interface Shape {
  /** The subexpression's text, position-free. */
  readonly key: string;
  /** Its selectors, in a fixed order. */
  readonly selectors: Array<VectorSelector | MatrixSelector>;
}

const shapes = new WeakMap<Expr, Shape | null>();

/**
 * How a subexpression is identified in the {@link SubtreeMemo}, or null when it is not
 * kept there: it reads no selector (cheap), holds a subquery (its own memo, sample
 * counting per step) or may add warnings (which a memoised answer would not repeat).
 */
function shareable(e: Expr): Shape | null {
  let s = shapes.get(e);
  if (s !== undefined) return s;
  const selectors: Array<VectorSelector | MatrixSelector> = [];
  let ok = true;
  walk(e, (n) => {
    if (n.kind === 'VectorSelector') selectors.push(n);
    else if (n.kind === 'MatrixSelector') selectors.push(n);
    else if (n.kind === 'SubqueryExpr') ok = false;
    else if (n.kind === 'AggregateExpr' && n.op === 'quantile') ok = false;
    else if (n.kind === 'Call' && (n.func === 'histogram_quantile' || n.func === 'quantile_over_time' || n.func === 'sort' || n.func === 'sort_desc')) ok = false;
  });
  s = ok && selectors.length > 0 ? { key: exprKey(e), selectors } : null;
  shapes.set(e, s);
  return s;
}

/** Position-free text of a subtree (JSON of its nodes; numbers JSON cannot tell apart spelled out). */
function exprKey(e: Expr): string {
  return JSON.stringify(e, (k, v: unknown) => {
    if (k === 'pos') return undefined;
    if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) return `#${Object.is(v, -0) ? '-0' : String(v)}`;
    return v;
  });
}

/** A selected series with a read cursor (count of samples ≤ the last time looked at). */
interface SelSeries {
  readonly labels: Labels;
  readonly t: ArrayLike<number>;
  readonly v: ArrayLike<number>;
  pos: number;
  lo: number;
}

interface MatrixResult {
  readonly series: ReadonlyArray<{ labels: Labels; w: Window }>;
  readonly info: RangeInfo;
}

const SUBQUERY_MEMO_LIMIT = 1_000_000;
const YIELD_EVERY_MS = 20;

/** Count of samples with time ≤ T, starting from a hint (usually the previous answer). */
function seekAfter(t: ArrayLike<number>, T: number, hint: number): number {
  const n = t.length;
  let lo: number;
  let hi: number;
  if (hint > 0 && t[hint - 1] > T) {
    lo = 0;
    hi = hint - 1;
  } else {
    let i = hint;
    for (let k = 0; k < 8 && i < n && t[i] <= T; k++) i++;
    if (i >= n || t[i] > T) return i;
    lo = i;
    hi = n;
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid] <= T) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first sample with time ≥ T (or > T when `open`). */
function seekFrom(t: ArrayLike<number>, T: number, open: boolean, hint: number): number {
  const before = (x: number): boolean => (open ? x <= T : x < T);
  const n = t.length;
  let lo = 0;
  let hi = n;
  if (hint > 0 && hint <= n && !before(t[hint - 1])) hi = hint - 1;
  else {
    let i = Math.min(hint, n);
    for (let k = 0; k < 8 && i < n && before(t[i]); k++) i++;
    if (i >= n || !before(t[i])) return i;
    lo = i;
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(t[mid])) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * True when `e` is a range selector naming its metric with `__name__="…"`: its series
 * (distinct label sets, one name) stay distinct once the name is dropped.
 */
function oneMetricName(e: Expr): boolean {
  const u = unwrapParens(e);
  return u.kind === 'MatrixSelector' && u.vs.matchers.some((m) => m.name === METRIC_NAME && m.type === '=');
}

function unwrapParens(e: Expr): Expr {
  while (e.kind === 'ParenExpr') e = e.expr;
  return e;
}

/** Labels `absent()` reports: the equality matchers of the selector it was given. */
function absentLabels(arg: Expr): Labels {
  const e = unwrapParens(arg);
  const vs = e.kind === 'VectorSelector' ? e : e.kind === 'MatrixSelector' ? e.vs : undefined;
  if (!vs) return [];
  const out = new Map<string, string>();
  const drop = new Set<string>();
  for (const m of vs.matchers) {
    if (m.name === METRIC_NAME) continue;
    if (m.type === '=' && !out.has(m.name)) out.set(m.name, m.value);
    else drop.add(m.name);
  }
  for (const d of drop) out.delete(d);
  return [...out.entries()]
    .filter(([, v]) => v !== '')
    .map(([name, value]) => ({ name, value }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Samples per `select` answer, counted once: the engine never writes into an answer and
 * treats it as read-only (the TSDB's contract, see `Tsdb.querier`: it hands the same
 * array to every query that repeats a select while its data is unchanged), so the 500 rules of a group reading one 16k-series selector count
 * it once, not 500 times. Weak, so an answer's entry goes with the answer.
 */
const answerSampleCounts = new WeakMap<readonly Series[], number>();

function answerSamples(series: readonly Series[]): number {
  let n = answerSampleCounts.get(series);
  if (n === undefined) {
    n = 0;
    for (const s of series) n += s.t.length;
    answerSampleCounts.set(series, n);
  }
  return n;
}

class Evaluator {
  readonly warnings = new Set<string>();
  samples = 0;
  /** What each selector's `select` returned; wrapped into cursors on first use. */
  private raw = new Map<VectorSelector | MatrixSelector, readonly Series[]>();
  private selected = new Map<VectorSelector, SelSeries[]>();
  private matrixSelected = new Map<MatrixSelector, SelSeries[]>();
  /** The root, when subexpression results may be shared with other queries. */
  private shareRoot: Expr | undefined;
  private memo = new Map<SubqueryExpr, Map<number, Vector>>();
  private memoSize = 0;
  private readonly lookback: number;
  private readonly open: boolean;
  private checks = 0;

  constructor(
    private readonly engine: Engine,
    private readonly start: number,
    private readonly end: number,
    private readonly step: number,
    private readonly deadline: number,
    private readonly now: () => number,
  ) {
    this.lookback = engine.lookbackDeltaMs;
    this.open = engine.compat === 'v3';
  }

  /** Serves and keeps the results of `root`'s subexpressions in the engine's memo. */
  shareSubtrees(root: Expr): void {
    this.shareRoot = root;
  }

  private at(a: AtModifier | undefined, t: number): number {
    if (a === undefined) return t;
    if (a === 'start') return this.start;
    if (a === 'end') return this.end;
    return a;
  }

  checkDeadline(): void {
    if (this.now() > this.deadline) throw timeoutError('expression evaluation');
  }

  private addSamples(n: number, where: string): void {
    this.samples += n;
    if (this.samples > this.engine.maxSamples) throw tooManySamplesError(where);
  }

  // ---- selection ---------------------------------------------------------------------

  /** Selects every series the expression reads, each over the times it needs. */
  select(queryable: Queryable, root: Expr, queriers: Querier[]): void {
    const needs = new Map<VectorSelector | MatrixSelector, [number, number]>();
    // The function directly wrapping each selector: the `func` hint (a store may serve
    // min_over_time from min rollups, and so on).
    const funcs = new Map<VectorSelector | MatrixSelector, string>();
    const visit = (e: Expr, s: number, en: number, func?: string): void => {
      switch (e.kind) {
        case 'VectorSelector': {
          const a = e.at === undefined ? [s, en] : [this.at(e.at, s), this.at(e.at, s)];
          add(needs, e, a[0] - e.offsetMs - this.lookback, a[1] - e.offsetMs);
          if (func) funcs.set(e, func);
          return;
        }
        case 'MatrixSelector': {
          const vs = e.vs;
          const a = vs.at === undefined ? [s, en] : [this.at(vs.at, s), this.at(vs.at, s)];
          add(needs, e, a[0] - vs.offsetMs - e.rangeMs, a[1] - vs.offsetMs);
          if (func) funcs.set(e, func);
          return;
        }
        case 'SubqueryExpr': {
          const a = e.at === undefined ? [s, en] : [this.at(e.at, s), this.at(e.at, s)];
          visit(e.expr, a[0] - e.offsetMs - e.rangeMs, a[1] - e.offsetMs);
          return;
        }
        case 'Call':
          for (const c of e.args) visit(c, s, en, e.func);
          return;
        case 'ParenExpr':
          visit(e.expr, s, en, func);
          return;
        default:
          forChildren(e, (c) => visit(c, s, en));
      }
    };
    visit(root, this.start, this.end);
    const byRange = new Map<string, Querier>();
    for (const [node, [mint, maxt]] of needs) {
      const key = `${mint}:${maxt}`;
      let q = byRange.get(key);
      if (!q) {
        q = queryable.querier(mint, maxt);
        queriers.push(q);
        byRange.set(key, q);
      }
      const vs = node.kind === 'MatrixSelector' ? node.vs : node;
      const series = q.select(vs.matchers, {
        start: mint,
        end: maxt,
        step: this.step,
        range: node.kind === 'MatrixSelector' ? node.rangeMs : undefined,
        func: funcs.get(node),
      });
      this.addSamples(answerSamples(series), 'query execution');
      this.raw.set(node, series);
    }
  }

  private selectedOf(vs: VectorSelector): SelSeries[] {
    let out = this.selected.get(vs);
    if (!out) {
      out = (this.raw.get(vs) ?? []).map((s) => ({ labels: s.labels, t: s.t, v: s.v, pos: 0, lo: 0 }));
      this.selected.set(vs, out);
    }
    return out;
  }

  private matrixSelectedOf(ms: MatrixSelector): SelSeries[] {
    let out = this.matrixSelected.get(ms);
    if (!out) {
      out = (this.raw.get(ms) ?? []).map((s) => withoutStale(s.labels, s.t, s.v));
      this.matrixSelected.set(ms, out);
    }
    return out;
  }

  // ---- query shapes ------------------------------------------------------------------

  instant(e: Expr): QueryValue {
    const t = this.start;
    switch (exprType(e)) {
      case 'scalar':
        return { resultType: 'scalar', result: { t, v: this.scalar(e, t) } };
      case 'string':
        return { resultType: 'string', result: { t, v: this.string(e) } };
      case 'vector': {
        const result = this.vector(e, t);
        return { resultType: 'vector', result };
      }
      case 'matrix': {
        const m = this.matrix(e, t);
        const result: Matrix = m.series.map(({ labels, w }) => {
          const ts: number[] = [];
          const vs: number[] = [];
          for (let i = w.lo; i < w.hi; i++) {
            ts.push(w.t[i]);
            vs.push(w.v[i]);
          }
          return { labels, t: ts, v: vs };
        });
        result.sort((a, b) => compareLabels(a.labels, b.labels));
        return { resultType: 'matrix', result };
      }
    }
  }

  /**
   * Evaluates every step. Yields to the event loop every few milliseconds so a long
   * query delays ingest and other requests by at most that much.
   */
  async range(e: Expr): Promise<QueryValue> {
    walk(e, (n) => {
      if (n.kind === 'Call' && (n.func === 'sort' || n.func === 'sort_desc')) {
        this.warnings.add('PromQL warning: sort is ineffective for range queries since results are always ordered by labels');
      }
    });
    const isScalar = exprType(e) === 'scalar';
    const out = new Map<string, { labels: Labels; t: number[]; v: number[] }>();
    let lastYield = performance.now();
    for (let t = this.start; t <= this.end; t += this.step) {
      this.checkDeadline();
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      if (isScalar) {
        let s = out.get('');
        if (!s) out.set('', (s = { labels: [], t: [], v: [] }));
        s.t.push(t);
        s.v.push(this.scalar(e, t));
        this.addSamples(1, 'query execution');
        continue;
      }
      const vec = this.vector(e, t);
      this.addSamples(vec.length, 'query execution');
      for (const smp of vec) {
        const k = keyOf(smp.labels);
        let s = out.get(k);
        if (!s) out.set(k, (s = { labels: smp.labels, t: [], v: [] }));
        s.t.push(t);
        s.v.push(smp.v);
      }
    }
    const result: Matrix = [...out.values()].sort((a, b) => compareLabels(a.labels, b.labels));
    return { resultType: 'matrix', result };
  }

  // ---- typed evaluation --------------------------------------------------------------

  private string(e: Expr): string {
    const u = unwrapParens(e);
    if (u.kind !== 'StringLiteral') throw new QueryError('internal', 'expected a string expression');
    return u.value;
  }

  private scalar(e: Expr, t: number): number {
    switch (e.kind) {
      case 'NumberLiteral':
        return e.value;
      case 'ParenExpr':
        return this.scalar(e.expr, t);
      case 'UnaryExpr':
        return e.op === '-' ? -this.scalar(e.expr, t) : this.scalar(e.expr, t);
      case 'BinaryExpr':
        return scalarBinop(e.op, this.scalar(e.lhs, t), this.scalar(e.rhs, t));
      case 'Call':
        if (e.func === 'time') return t / 1000;
        if (e.func === 'pi') return Math.PI;
        if (e.func === 'scalar') {
          const v = this.vector(e.args[0], t);
          return v.length === 1 ? v[0].v : NaN;
        }
        break;
      default:
        break;
    }
    throw new QueryError('internal', `expression of type ${documentedType(exprType(e))} where a scalar was expected`);
  }

  private vector(e: Expr, t: number): Vector {
    if (this.shareRoot !== undefined && e !== this.shareRoot && (e.kind === 'AggregateExpr' || e.kind === 'BinaryExpr' || e.kind === 'Call')) {
      const shape = shareable(e);
      if (shape) {
        const key = `${t}\u0000${shape.key}`;
        const inputs = shape.selectors.map((n) => this.raw.get(n) ?? []);
        const hit = this.engine.subtrees.get(key, inputs);
        if (hit) return hit;
        const out = this.vectorOf(e, t);
        this.engine.subtrees.set(key, inputs, out);
        return out;
      }
    }
    return this.vectorOf(e, t);
  }

  private vectorOf(e: Expr, t: number): Vector {
    switch (e.kind) {
      case 'VectorSelector':
        return this.vectorSelector(e, t);
      case 'ParenExpr':
        return this.vector(e.expr, t);
      case 'UnaryExpr': {
        const v = this.vector(e.expr, t);
        if (e.op === '+') return v;
        const out = v.map((s) => ({ labels: dropName(s.labels), t, v: -s.v }));
        checkDuplicates(out);
        return out;
      }
      case 'AggregateExpr':
        return this.aggregate(e, t);
      case 'BinaryExpr':
        return this.binary(e, t);
      case 'Call':
        return this.call(e, t);
      default:
        throw new QueryError('internal', `expression of type ${documentedType(exprType(e))} where an instant vector was expected`);
    }
  }

  private vectorSelector(vs: VectorSelector, t: number): Vector {
    return this.latestInWindow(vs, t, (labels, _st, v) => ({ labels, t, v }));
  }

  /** Sample timestamps (seconds) for `timestamp(selector)`. */
  private selectorTimestamps(vs: VectorSelector, t: number): Vector {
    return this.latestInWindow(vs, t, (labels, st) => ({ labels: dropName(labels), t, v: st / 1000 }));
  }

  /**
   * The newest non-stale sample of each selected series within the lookback window
   * before `t` (with `@` and `offset` applied), mapped to an output sample.
   */
  private latestInWindow(vs: VectorSelector, t: number, emit: (labels: Labels, st: number, v: number) => Vector[number]): Vector {
    const series = this.selectedOf(vs);
    const T = this.at(vs.at, t) - vs.offsetMs;
    const min = T - this.lookback;
    const out: Vector = [];
    for (const s of series) {
      const pos = (s.pos = seekAfter(s.t, T, s.pos));
      if (pos === 0) continue;
      const st = s.t[pos - 1];
      if (this.open ? st <= min : st < min) continue;
      const v = s.v[pos - 1];
      if (v !== v && isStaleNaN(v)) continue;
      out.push(emit(s.labels, st, v));
    }
    return out;
  }

  private matrix(e: Expr, t: number): MatrixResult {
    const u = unwrapParens(e);
    if (u.kind === 'MatrixSelector') {
      const vs = u.vs;
      const T = this.at(vs.at, t) - vs.offsetMs;
      const from = T - u.rangeMs;
      const series: Array<{ labels: Labels; w: Window }> = [];
      for (const s of this.matrixSelectedOf(u)) {
        const hi = (s.pos = seekAfter(s.t, T, s.pos));
        const lo = (s.lo = seekFrom(s.t, from, this.open, s.lo));
        if (hi > lo) series.push({ labels: s.labels, w: { t: s.t, v: s.v, lo, hi } });
      }
      return { series, info: { rangeStart: from, rangeEnd: T, rangeMs: u.rangeMs, evalT: t, v3: this.open } };
    }
    if (u.kind === 'SubqueryExpr') return this.subquery(u, t);
    throw new QueryError('internal', `expression of type ${documentedType(exprType(e))} where a range vector was expected`);
  }

  private subquery(sq: SubqueryExpr, t: number): MatrixResult {
    const T = this.at(sq.at, t) - sq.offsetMs;
    const step = sq.stepMs ?? this.engine.noStepSubqueryIntervalMs;
    const from = T - sq.rangeMs;
    // Go's integer division truncates toward zero; keep it for negative times too.
    let first = step * Math.trunc(from / step);
    if (this.open ? first <= from : first < from) first += step;
    let memo = this.memo.get(sq);
    if (!memo) this.memo.set(sq, (memo = new Map()));
    const acc = new Map<string, { labels: Labels; t: number[]; v: number[] }>();
    for (let ts = first; ts <= T; ts += step) {
      if (++this.checks % 64 === 0) this.checkDeadline();
      let vec = memo.get(ts);
      if (!vec) {
        vec = this.vector(sq.expr, ts);
        if (this.memoSize > SUBQUERY_MEMO_LIMIT) {
          for (const m of this.memo.values()) m.clear();
          this.memoSize = 0;
        }
        memo.set(ts, vec);
        this.memoSize += vec.length;
      }
      for (const s of vec) {
        const k = keyOf(s.labels);
        let a = acc.get(k);
        if (!a) acc.set(k, (a = { labels: s.labels, t: [], v: [] }));
        a.t.push(ts);
        a.v.push(s.v);
      }
    }
    const series = [...acc.values()].map((s) => ({ labels: s.labels, w: { t: s.t, v: s.v, lo: 0, hi: s.t.length } }));
    return { series, info: { rangeStart: from, rangeEnd: T, rangeMs: sq.rangeMs, evalT: t, v3: this.open } };
  }

  private aggregate(e: AggregateExpr, t: number): Vector {
    let param: number | string | undefined;
    if (e.param) param = e.op === 'count_values' ? this.string(e.param) : this.scalar(e.param, t);
    if (e.op === 'quantile' && typeof param === 'number' && !(param >= 0 && param <= 1)) {
      this.warnings.add(`PromQL warning: quantile value should be between 0 and 1, got ${param}`);
    }
    return aggregate(e.op, this.vector(e.expr, t), e.grouping, e.without, param, t);
  }

  private binary(e: BinaryExpr, t: number): Vector {
    const lt = exprType(e.lhs);
    const rt = exprType(e.rhs);
    let out: Vector;
    if (lt === 'vector' && rt === 'vector') {
      const m = e.matching!;
      if (e.op === 'and' || e.op === 'or' || e.op === 'unless') {
        return setBinop(e.op, this.vector(e.lhs, t), this.vector(e.rhs, t), m, t);
      }
      // Matching already guarantees distinct result label sets.
      return vectorBinop(e.op, this.vector(e.lhs, t), this.vector(e.rhs, t), m, e.returnBool, t, this.open);
    } else if (lt === 'vector') {
      out = vectorScalarBinop(e.op, this.vector(e.lhs, t), this.scalar(e.rhs, t), false, e.returnBool, t, this.open);
    } else {
      out = vectorScalarBinop(e.op, this.vector(e.rhs, t), this.scalar(e.lhs, t), true, e.returnBool, t, this.open);
    }
    // Comparisons without `bool` keep the input label sets, which are distinct already.
    if (e.returnBool || !COMPARISON_OPS.has(e.op)) checkDuplicates(out);
    return out;
  }

  private call(c: Call, t: number): Vector {
    const name = c.func;
    const args = c.args;
    const rangeFn = RANGE_FUNCTIONS[name];
    if (rangeFn) {
      const mi = name === 'quantile_over_time' ? 1 : 0;
      const scalars: number[] = [];
      args.forEach((a, i) => {
        if (i !== mi) scalars.push(this.scalar(a, t));
      });
      if (name === 'quantile_over_time' && !(scalars[0] >= 0 && scalars[0] <= 1)) {
        this.warnings.add(`PromQL warning: quantile value should be between 0 and 1, got ${scalars[0]}`);
      }
      const m = this.matrix(args[mi], t);
      const keepName = name === 'last_over_time';
      const out: Vector = [];
      for (const { labels, w } of m.series) {
        const v = rangeFn(w, m.info, scalars);
        if (v !== undefined) out.push({ labels: keepName ? labels : dropName(labels), t, v });
      }
      if (!keepName && !oneMetricName(args[mi])) checkDuplicates(out);
      return out;
    }
    switch (name) {
      case 'absent_over_time': {
        const m = this.matrix(args[0], t);
        return m.series.length ? [] : [{ labels: absentLabels(args[0]), t, v: 1 }];
      }
      case 'absent':
        return this.vector(args[0], t).length ? [] : [{ labels: absentLabels(args[0]), t, v: 1 }];
      case 'vector':
        return [{ labels: [], t, v: this.scalar(args[0], t) }];
      case 'timestamp': {
        const u = unwrapParens(args[0]);
        const out =
          u.kind === 'VectorSelector'
            ? this.selectorTimestamps(u, t)
            : this.vector(args[0], t).map((s) => ({ labels: dropName(s.labels), t, v: s.t / 1000 }));
        checkDuplicates(out);
        return out;
      }
      case 'sort':
      case 'sort_desc': {
        const v = [...this.vector(args[0], t)];
        const dir = name === 'sort' ? 1 : -1;
        return v.sort((a, b) => {
          if (Number.isNaN(a.v)) return Number.isNaN(b.v) ? 0 : 1;
          if (Number.isNaN(b.v)) return -1;
          return dir * (a.v - b.v);
        });
      }
      case 'label_replace':
        return labelReplace(this.vector(args[0], t), this.string(args[1]), this.string(args[2]), this.string(args[3]), this.string(args[4]));
      case 'label_join':
        return labelJoin(
          this.vector(args[0], t),
          this.string(args[1]),
          this.string(args[2]),
          args.slice(3).map((a) => this.string(a)),
        );
      case 'histogram_quantile': {
        const out = histogramQuantile(this.scalar(args[0], t), this.vector(args[1], t), t, this.warnings);
        return out;
      }
      case 'clamp':
      case 'clamp_min':
      case 'clamp_max': {
        const vec = this.vector(args[0], t);
        let lo = -Infinity;
        let hi = Infinity;
        if (name === 'clamp') {
          lo = this.scalar(args[1], t);
          hi = this.scalar(args[2], t);
          if (hi < lo) return [];
        } else if (name === 'clamp_min') lo = this.scalar(args[1], t);
        else hi = this.scalar(args[1], t);
        const out = vec.map((s) => ({ labels: dropName(s.labels), t, v: Math.max(lo, Math.min(hi, s.v)) }));
        checkDuplicates(out);
        return out;
      }
      case 'round': {
        const vec = this.vector(args[0], t);
        const nearest = args.length > 1 ? this.scalar(args[1], t) : 1;
        const inv = 1 / nearest;
        const out = vec.map((s) => ({ labels: dropName(s.labels), t, v: Math.floor(s.v * inv + 0.5) / inv }));
        checkDuplicates(out);
        return out;
      }
      default:
        break;
    }
    const fn = elementFunction(name);
    if (!fn) throw new QueryError('internal', `function "${name}" is not implemented`);
    if (isDateFunction(name) && args.length === 0) return [{ labels: [], t, v: fn(t / 1000) }];
    const out = this.vector(args[0], t).map((s): Sample => ({ labels: dropName(s.labels), t, v: fn(s.v) }));
    checkDuplicates(out);
    return out;
  }
}

function add(needs: Map<VectorSelector | MatrixSelector, [number, number]>, node: VectorSelector | MatrixSelector, mint: number, maxt: number): void {
  const cur = needs.get(node);
  if (!cur) needs.set(node, [mint, maxt]);
  else needs.set(node, [Math.min(cur[0], mint), Math.max(cur[1], maxt)]);
}

function forChildren(e: Expr, fn: (c: Expr) => void): void {
  for (const c of childrenOf(e)) fn(c);
}

function withoutStale(labels: Labels, t: ArrayLike<number>, v: ArrayLike<number>): SelSeries {
  let stale = 0;
  for (let i = 0; i < v.length; i++) if (v[i] !== v[i] && isStaleNaN(v[i])) stale++;
  if (stale === 0) return { labels, t, v, pos: 0, lo: 0 };
  const nt = new Float64Array(t.length - stale);
  const nv = new Float64Array(t.length - stale);
  let j = 0;
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== v[i] && isStaleNaN(v[i])) continue;
    nt[j] = t[i];
    nv[j] = v[i];
    j++;
  }
  return { labels, t: nt, v: nv, pos: 0, lo: 0 };
}

