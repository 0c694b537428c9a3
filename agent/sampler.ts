/**
 * The sampler: once per tick runs every source under a deadline, stamps target labels,
 * and hands one {@link Batch} to the consumer (the shipper, or stdout with `--once`).
 * Ticks never overlap: a tick that overruns makes the next one start at the next slot.
 * Series that vanish between ticks get a stale marker in the next batch, so queries
 * stop showing them at once, as Prometheus does for scrape targets.
 */
import type { Label, Labels, Logger, MetricTypeName, Sample, TimeSeries } from '../shared/index.js';
import { noopLogger, STALE_NAN, errorMessage } from '../shared/index.js';
import type { CollectContext, MetricSink, Source } from './sources/source.js';

export interface FamilyInfo {
  readonly type: MetricTypeName;
  readonly help: string;
}

/** One tick's output. */
export interface Batch {
  /** The tick's timestamp, ms. */
  readonly t: number;
  readonly series: TimeSeries[];
  /** Family metadata of the series, by metric name. */
  readonly families: ReadonlyMap<string, FamilyInfo>;
  /** Number of samples, stale markers included. */
  readonly samples: number;
}

export interface SamplerMetrics {
  tickDuration(seconds: number): void;
  sourceError(source: string, reason: string): void;
  sourceDuration(source: string, seconds: number): void;
  deadlineExceeded(source: string): void;
}

export interface SamplerOptions {
  sources: readonly Source[];
  /** Labels on every series (`cluster`, `node`, `instance`); a source's target labels win. */
  baseLabels: Readonly<Record<string, string>>;
  intervalMs: number;
  /** How long sources may take each tick; defaults to 80 % of the interval. */
  deadlineMs?: number;
  logger?: Logger;
  metrics?: SamplerMetrics;
  now?: () => number;
}

const NOOP_METRICS: SamplerMetrics = { tickDuration() {}, sourceError() {}, sourceDuration() {}, deadlineExceeded() {} };

export class Sampler {
  private readonly opts: SamplerOptions;
  private readonly log: Logger;
  private readonly metrics: SamplerMetrics;
  private readonly now: () => number;
  private readonly table = new SeriesTable();
  private previousTick: Promise<void> = Promise.resolve();
  private readonly loggedReasons = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(opts: SamplerOptions) {
    if (!(opts.intervalMs > 0)) throw new Error(`sampler interval must be positive, got ${opts.intervalMs}`);
    this.opts = opts;
    this.log = (opts.logger ?? noopLogger()).child({ component: 'sampler' });
    this.metrics = opts.metrics ?? NOOP_METRICS;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Runs every source once and returns the batch. Calls made while a tick runs wait for
   * it: the series table carries each tick over to the next.
   */
  tick(): Promise<Batch> {
    const run = this.previousTick.then(() => this.tickNow());
    this.previousTick = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async tickNow(): Promise<Batch> {
    const started = performance.now();
    const t = this.now();
    const deadlineMs = this.opts.deadlineMs ?? Math.floor(this.opts.intervalMs * 0.8);
    const base = Object.entries(this.opts.baseLabels).filter(([, v]) => v !== '');
    const families = new Map<string, FamilyInfo>();
    this.table.begin(t, base);
    // runSource catches everything a source throws: the table's tick always finishes.
    await Promise.all(this.opts.sources.map((src, i) => this.runSource(src, i, families, t, deadlineMs)));
    const batch = this.table.finish(families);
    this.metrics.tickDuration((performance.now() - started) / 1000);
    return batch;
  }

  private async runSource(src: Source, index: number, families: Map<string, FamilyInfo>, t: number, deadlineMs: number): Promise<void> {
    const ac = new AbortController();
    const started = performance.now();
    const sink = this.table.sinkFor(src, index, families);
    const ctx: CollectContext = {
      now: t,
      signal: ac.signal,
      reportError: (reason, err) => {
        this.metrics.sourceError(src.name, reason);
        const key = `${src.name}/${reason}`;
        if (!this.loggedReasons.has(key)) {
          this.loggedReasons.add(key);
          this.log.warn({ source: src.name, reason, err: errorMessage(err) }, 'Source error (logged once per reason, counted every time)');
        } else {
          this.log.debug({ source: src.name, reason, err: errorMessage(err) }, 'Source error');
        }
      },
    };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), deadlineMs);
      timer.unref();
    });
    try {
      const result = await Promise.race([Promise.resolve().then(() => src.collect(sink, ctx)), deadline]);
      if (result === 'deadline') {
        ac.abort();
        sink.close();
        this.metrics.deadlineExceeded(src.name);
        ctx.reportError('deadline_exceeded', new Error(`source ${src.name} did not finish within ${deadlineMs} ms`));
      }
    } catch (err) {
      ctx.reportError('collect_failed', err);
    } finally {
      clearTimeout(timer);
      sink.close();
      this.metrics.sourceDuration(src.name, (performance.now() - started) / 1000);
    }
  }

  /**
   * Ticks every interval, aligned to multiples of the interval, passing each batch to
   * `consume`. Errors from `consume` are logged and the loop goes on.
   */
  start(consume: (b: Batch) => void | Promise<void>): void {
    const interval = this.opts.intervalMs;
    const schedule = () => {
      if (this.stopped) return;
      const now = this.now();
      const next = Math.floor(now / interval) * interval + interval;
      this.timer = setTimeout(run, next - now);
    };
    const run = () => {
      this.running = (async () => {
        try {
          await consume(await this.tick());
        } catch (err) {
          this.log.error({ err }, 'Tick failed');
        }
      })().finally(schedule);
    };
    run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

/** Tick number of a series dropped from the table (its stale marker is sent). */
const DROPPED = -1;

/**
 * One series known to the sampler: its stamped, sorted label set (built once, the same
 * object every tick, so the remote_write encoder's per-Labels byte cache hits) and the
 * sample(s) it got this tick.
 */
interface SeriesRecord {
  readonly labels: Labels;
  readonly key: string;
  /** Number of the last tick that gave it a sample; {@link DROPPED} once gone. */
  tick: number;
  t: number;
  v: number;
  /** Further samples of the same tick (two sources or two adds of one series); rare. */
  more: Sample[] | undefined;
}

/**
 * A level of a source's lookup trie: one label of the raw form a source gives (names in
 * the source's order, values as given), so a sample finds its series with a few map reads
 * of short strings instead of building and hashing a string of all its labels.
 */
interface TrieNode {
  /** The label name `next` is for: sources give the same names in the same order. */
  name: string | undefined;
  /** By value of label `name`. */
  next: Map<string, TrieNode> | undefined;
  /** Another label name at this position (rare): its own node. */
  alt: Map<string, TrieNode> | undefined;
  /** The labels end here: by family name. */
  leaves: Map<string, SeriesRecord> | undefined;
}

const newNode = (name: string | undefined): TrieNode => ({ name, next: undefined, alt: undefined, leaves: undefined });

/**
 * The sampler's series, kept between ticks. Sources emit the same series every tick, so
 * after the first tick a sample costs a walk down its source's trie and two field writes;
 * per tick only the batch's own objects are allocated. A series that got no sample this
 * tick but had one the tick before gets a stale marker and is dropped.
 */
class SeriesTable {
  private readonly byKey = new Map<string, SeriesRecord>();
  /** One trie per source (by index). */
  private readonly roots: TrieNode[] = [];
  /** Series with a sample this tick, in order of their first sample (the batch's order). */
  private touched: SeriesRecord[] = [];
  private previous: SeriesRecord[] = [];
  private tickNo = 0;
  private t = 0;
  private base: ReadonlyArray<readonly [string, string]> = [];

  begin(t: number, base: ReadonlyArray<readonly [string, string]>): void {
    this.tickNo++;
    this.t = t;
    this.base = base;
  }

  /** A sink that stamps `src`'s target labels and stops accepting after `close`. */
  sinkFor(src: Source, index: number, families: Map<string, FamilyInfo>): MetricSink & { close(): void } {
    let open = true;
    const target = Object.entries(src.targetLabels).filter(([, v]) => v !== '');
    const root = (this.roots[index] ??= newNode(undefined));
    const tickNo = this.tickNo;
    return {
      family: (name, type, help) => {
        if (open && !families.has(name)) families.set(name, { type, help });
      },
      add: (name, labels, value, t) => {
        if (!open) return;
        let node = root;
        for (const k in labels) {
          if (node.name !== k) {
            if (node.name === undefined) node.name = k;
            else {
              node.alt ??= new Map();
              let alt = node.alt.get(k);
              if (!alt) node.alt.set(k, (alt = newNode(k)));
              node = alt;
            }
          }
          node.next ??= new Map();
          const v = labels[k];
          let child = node.next.get(v);
          if (!child) node.next.set(v, (child = newNode(undefined)));
          node = child;
        }
        node.leaves ??= new Map();
        let rec = node.leaves.get(name);
        if (!rec || rec.tick === DROPPED) {
          rec = this.record(name, labels, target);
          node.leaves.set(name, rec);
        }
        const ts = t ?? this.t;
        if (rec.tick === tickNo) {
          (rec.more ??= []).push({ t: ts, v: value });
        } else {
          rec.tick = tickNo;
          rec.t = ts;
          rec.v = value;
          rec.more = undefined;
          this.touched.push(rec);
        }
      },
      close: () => {
        open = false;
      },
    };
  }

  /** The series of a raw form not seen last tick: found by its final label set, or new. */
  private record(name: string, labels: Readonly<Record<string, string>>, target: ReadonlyArray<readonly [string, string]>): SeriesRecord {
    const ls: Label[] = [{ name: '__name__', value: name }];
    const has = new Set<string>(['__name__']);
    for (const k in labels) {
      const v = labels[k];
      if (v !== '' && !has.has(k)) {
        ls.push({ name: k, value: v });
        has.add(k);
      }
    }
    for (const [k, v] of [...target, ...this.base]) {
      if (has.has(k)) continue;
      ls.push({ name: k, value: v });
      has.add(k);
    }
    ls.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const key = seriesKey(ls);
    let rec = this.byKey.get(key);
    if (!rec) {
      // NaN, not 0: the fields start as doubles, so each tick's writes go into them in place.
      rec = { labels: ls, key, tick: 0, t: NaN, v: NaN, more: undefined };
      this.byKey.set(key, rec);
    }
    return rec;
  }

  finish(families: ReadonlyMap<string, FamilyInfo>): Batch {
    const tickNo = this.tickNo;
    let samples = 0;
    const series: TimeSeries[] = [];
    for (const rec of this.touched) {
      let ss: Sample[];
      if (rec.more) {
        ss = [{ t: rec.t, v: rec.v }, ...rec.more];
        ss.sort((a, b) => a.t - b.t);
        rec.more = undefined;
      } else {
        ss = [{ t: rec.t, v: rec.v }];
      }
      series.push({ labels: rec.labels, samples: ss });
      samples += ss.length;
    }
    let dropped = 0;
    for (const rec of this.previous) {
      if (rec.tick === tickNo) continue;
      series.push({ labels: rec.labels, samples: [{ t: this.t, v: STALE_NAN }] });
      samples++;
      rec.tick = DROPPED;
      this.byKey.delete(rec.key);
      dropped++;
    }
    const prev = this.previous;
    this.previous = this.touched;
    prev.length = 0;
    this.touched = prev;
    if (dropped > 0) for (const root of this.roots) if (root) prune(root);
    return { t: this.t, series, families, samples };
  }
}

/**
 * The table's key of a label set. Built by `join`, which yields one flat string: a `+=`
 * loop leaves a rope of ~20 pieces per series alive as the map key (≈8 MB on a full node).
 */
function seriesKey(ls: Labels): string {
  const parts: string[] = new Array<string>(ls.length);
  for (let i = 0; i < ls.length; i++) parts[i] = ls[i].name + '\xff' + ls[i].value;
  return parts.join('\xfe');
}

/**
 * Removes dropped series from a trie, and the levels left empty; true when `node` is
 * empty. Runs on ticks where a series went away (pod churn), so it walks with forEach:
 * no entry arrays for the ~13,000 leaves of a full node.
 */
function prune(node: TrieNode): boolean {
  const leaves = node.leaves;
  if (leaves) {
    leaves.forEach((rec, name) => {
      if (rec.tick === DROPPED) leaves.delete(name);
    });
    if (leaves.size === 0) node.leaves = undefined;
  }
  if (node.next) pruneChildren(node.next);
  if (node.alt) pruneChildren(node.alt);
  if (node.next?.size === 0) node.next = undefined;
  if (node.alt?.size === 0) node.alt = undefined;
  return !node.leaves && !node.next && !node.alt;
}

function pruneChildren(m: Map<string, TrieNode>): void {
  m.forEach((child, k) => {
    if (prune(child)) m.delete(k);
  });
}
