/**
 * The sampler: once per tick runs every source under a deadline, stamps target labels,
 * and hands one {@link Batch} to the consumer (the shipper, or stdout with `--once`).
 * Ticks never overlap: a tick that overruns makes the next one start at the next slot.
 * Series that vanish between ticks get a stale marker in the next batch, so queries
 * stop showing them at once, as Prometheus does for scrape targets.
 */
import type { Label, Logger, MetricTypeName, PackedSeries, Sample, TimeSeries } from '../shared/index.js';
import { encodeLabels, noopLogger, packedLabels, STALE_NAN, errorMessage } from '../shared/index.js';
import type { CollectContext, MetricSink, Source } from './sources/source.js';

export interface FamilyInfo {
  readonly type: MetricTypeName;
  readonly help: string;
}

/** One tick's output. */
export interface Batch {
  /** The tick's timestamp, ms. */
  readonly t: number;
  /** The series as objects; a sampler's batch builds them on first access from `packed`. */
  readonly series: TimeSeries[];
  /**
   * The same series in compact form (a sampler's batches have it): what the shipper
   * encodes, so a tick allocates no object per series. Stays valid after later ticks.
   */
  readonly packed?: PackedSeries;
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
  /** The labels end here: series slot by family name. */
  leaves: Map<string, number> | undefined;
}

const newNode = (name: string | undefined): TrieNode => ({ name, next: undefined, alt: undefined, leaves: undefined });

/** A sampler batch: the packed series, and their objects built on first use. */
class PackedBatch implements Batch {
  private built: TimeSeries[] | undefined;

  constructor(
    readonly t: number,
    readonly packed: PackedSeries,
    readonly families: ReadonlyMap<string, FamilyInfo>,
    readonly samples: number,
  ) {}

  get series(): TimeSeries[] {
    if (this.built) return this.built;
    const p = this.packed;
    const out: TimeSeries[] = new Array<TimeSeries>(p.count);
    for (let i = 0; i < p.count; i++) out[i] = { labels: packedLabels(p, i), samples: p.more?.get(i) ?? [{ t: p.t[i], v: p.v[i] }] };
    return (this.built = out);
  }
}

/**
 * Encoded label bytes, each distinct run stored once and reference-counted: the series
 * of one pod or container share every label but the metric name, so their tails are one
 * part. Bytes live in one arena buffer that is never rewritten in place (batches point
 * into it); when it fills, the live parts move to a new one.
 */
class PartStore {
  arena = Buffer.allocUnsafe(64 * 1024);
  private used = 0;
  /** Bytes of released parts still in the arena. */
  private dead = 0;
  private n = 0;
  private readonly free: number[] = [];
  start = new Int32Array(256);
  end = new Int32Array(256);
  private refs = new Int32Array(256);
  private hashOf = new Int32Array(256);
  /** Next part with the same hash, -1 for none. */
  private chain = new Int32Array(256);
  private readonly byHash = new Map<number, number>();

  /** The part holding `bytes` (stored if new), with one more reference. */
  intern(bytes: Uint8Array): number {
    const h = hashBytes(bytes);
    const first = this.byHash.get(h) ?? -1;
    for (let id = first; id >= 0; id = this.chain[id]) {
      if (this.holds(id, bytes)) {
        this.refs[id]++;
        return id;
      }
    }
    const id = this.newId();
    if (this.used + bytes.length > this.arena.length) this.moveArena(bytes.length);
    this.arena.set(bytes, this.used);
    this.start[id] = this.used;
    this.used += bytes.length;
    this.end[id] = this.used;
    this.refs[id] = 1;
    this.hashOf[id] = h;
    this.chain[id] = first;
    this.byHash.set(h, id);
    return id;
  }

  /** Drops a reference; the part is forgotten with its last one. */
  release(id: number): void {
    if (--this.refs[id] > 0) return;
    const h = this.hashOf[id];
    const first = this.byHash.get(h) ?? -1;
    if (first === id) {
      if (this.chain[id] >= 0) this.byHash.set(h, this.chain[id]);
      else this.byHash.delete(h);
    } else {
      let p = first;
      while (p >= 0 && this.chain[p] !== id) p = this.chain[p];
      if (p >= 0) this.chain[p] = this.chain[id];
    }
    this.dead += this.end[id] - this.start[id];
    this.free.push(id);
  }

  private holds(id: number, bytes: Uint8Array): boolean {
    const s = this.start[id];
    if (this.end[id] - s !== bytes.length) return false;
    const a = this.arena;
    for (let i = 0; i < bytes.length; i++) if (a[s + i] !== bytes[i]) return false;
    return true;
  }

  private newId(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.n === this.start.length) {
      const cap = this.n * 2;
      this.start = grow(this.start, this.n, cap);
      this.end = grow(this.end, this.n, cap);
      this.refs = grow(this.refs, this.n, cap);
      this.hashOf = grow(this.hashOf, this.n, cap);
      this.chain = grow(this.chain, this.n, cap);
    }
    return this.n++;
  }

  /** Copies the live parts into a new arena, bigger when half of it would not hold them and `need`. */
  private moveArena(need: number): void {
    const live = this.used - this.dead;
    const size = live + need > this.arena.length / 2 ? Math.ceil((live + need) * 1.5) : this.arena.length;
    const next = Buffer.allocUnsafe(size);
    let p = 0;
    for (let id = 0; id < this.n; id++) {
      if (this.refs[id] <= 0) continue;
      next.set(this.arena.subarray(this.start[id], this.end[id]), p);
      const len = this.end[id] - this.start[id];
      this.start[id] = p;
      p += len;
      this.end[id] = p;
    }
    this.arena = next;
    this.used = p;
    this.dead = 0;
  }
}

/**
 * The sampler's series, kept between ticks in compact form. A series is a slot: its
 * label fields, encoded once for remote_write ({@link encodeLabels}), are two parts of a
 * {@link PartStore} (up to the metric name, and the rest), and its tick, timestamp and
 * value are entries of typed arrays. A full node's ~13,000 series cost ~1.5 MB (their
 * tries aside) instead of ~17 MB of label objects, key strings and cached Buffers. Sources emit the same
 * series every tick, so after the first tick a sample costs a walk down its source's
 * trie and three array writes. A series that got no sample this tick but had one the
 * tick before gets a stale marker and is dropped.
 */
class SeriesTable {
  /** One trie per source (by index). */
  private readonly roots: TrieNode[] = [];
  private readonly parts = new PartStore();
  private cap = 0;
  private slots = 0;
  private readonly free: number[] = [];
  private head = new Int32Array(0);
  private tail = new Int32Array(0);
  /** Tick number of the slot's last sample, {@link DROPPED} once gone. */
  private tickOf = new Int32Array(0);
  private ts = new Float64Array(0);
  private vs = new Float64Array(0);
  /** Slot by head part, then tail part: two raw forms of one label set find one slot. */
  private readonly byParts = new Map<number, Map<number, number>>();
  /** Further samples of the same tick (two sources or two adds of one series); rare. */
  private more: Map<number, Sample[]> | undefined;
  /** Slots with a sample this tick, in order of their first sample (the batch's order). */
  private touched = new Int32Array(1024);
  private touchedN = 0;
  private previous = new Int32Array(1024);
  private previousN = 0;
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
        let slot = node.leaves.get(name);
        if (slot === undefined) {
          slot = this.slotFor(name, labels, target);
          node.leaves.set(name, slot);
        }
        const ts = t ?? this.t;
        if (this.tickOf[slot] === tickNo) {
          this.more ??= new Map();
          let ms = this.more.get(slot);
          if (!ms) this.more.set(slot, (ms = [{ t: this.ts[slot], v: this.vs[slot] }]));
          ms.push({ t: ts, v: value });
        } else {
          this.tickOf[slot] = tickNo;
          this.ts[slot] = ts;
          this.vs[slot] = value;
          if (this.touchedN === this.touched.length) this.touched = grow(this.touched, this.touchedN);
          this.touched[this.touchedN++] = slot;
        }
      },
      close: () => {
        open = false;
      },
    };
  }

  /** The slot of a raw form not seen before: found by its final label set, or new. */
  private slotFor(name: string, labels: Readonly<Record<string, string>>, target: ReadonlyArray<readonly [string, string]>): number {
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
    // Split after the metric name: the tail is what the series of one row share.
    const split = ls.findIndex((l) => l.name === '__name__') + 1;
    const head = this.parts.intern(encodeLabels(ls.slice(0, split)));
    const tail = this.parts.intern(encodeLabels(ls.slice(split)));
    let byTail = this.byParts.get(head);
    const found = byTail?.get(tail);
    if (found !== undefined) {
      // The slot holds its own references to both parts.
      this.parts.release(head);
      this.parts.release(tail);
      return found;
    }
    const slot = this.newSlot();
    this.head[slot] = head;
    this.tail[slot] = tail;
    this.tickOf[slot] = 0;
    if (!byTail) this.byParts.set(head, (byTail = new Map()));
    byTail.set(tail, slot);
    return slot;
  }

  private newSlot(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.slots === this.cap) {
      const cap = Math.max(1024, this.cap * 2);
      this.head = grow(this.head, this.slots, cap);
      this.tail = grow(this.tail, this.slots, cap);
      this.tickOf = grow(this.tickOf, this.slots, cap);
      const ts = new Float64Array(cap);
      ts.set(this.ts);
      this.ts = ts;
      const vs = new Float64Array(cap);
      vs.set(this.vs);
      this.vs = vs;
      this.cap = cap;
    }
    return this.slots++;
  }

  finish(families: ReadonlyMap<string, FamilyInfo>): Batch {
    const tickNo = this.tickNo;
    let stale = 0;
    for (let i = 0; i < this.previousN; i++) if (this.tickOf[this.previous[i]] !== tickNo) stale++;
    const n = this.touchedN + stale;
    // The batch's own copy of this tick (later ticks rewrite the table, not the batch), in
    // one allocation: one large block a tick, which the allocator maps and unmaps, where
    // six medium ones fragment its heap.
    const mem = new ArrayBuffer(n * 32);
    const t = new Float64Array(mem, 0, n);
    const v = new Float64Array(mem, 8 * n, n);
    const headStart = new Int32Array(mem, 16 * n, n);
    const headEnd = new Int32Array(mem, 20 * n, n);
    const tailStart = new Int32Array(mem, 24 * n, n);
    const tailEnd = new Int32Array(mem, 28 * n, n);
    const { start, end } = this.parts;
    let more: Map<number, Sample[]> | undefined;
    let samples = 0;
    for (let i = 0; i < this.touchedN; i++) {
      const slot = this.touched[i];
      const h = this.head[slot];
      const tl = this.tail[slot];
      headStart[i] = start[h];
      headEnd[i] = end[h];
      tailStart[i] = start[tl];
      tailEnd[i] = end[tl];
      t[i] = this.ts[slot];
      v[i] = this.vs[slot];
      const ms = this.more?.get(slot);
      if (ms) {
        ms.sort((a, b) => a.t - b.t);
        (more ??= new Map()).set(i, ms);
        samples += ms.length;
      } else samples++;
    }
    this.more = undefined;
    let k = this.touchedN;
    const dropped: number[] = [];
    for (let i = 0; i < this.previousN; i++) {
      const slot = this.previous[i];
      if (this.tickOf[slot] === tickNo) continue;
      const h = this.head[slot];
      const tl = this.tail[slot];
      headStart[k] = start[h];
      headEnd[k] = end[h];
      tailStart[k] = start[tl];
      tailEnd[k] = end[tl];
      t[k] = this.t;
      v[k] = STALE_NAN;
      k++;
      samples++;
      this.tickOf[slot] = DROPPED;
      dropped.push(slot);
    }
    // Taken before any part is released: released bytes stay where they are until the
    // arena moves, and a move makes a new buffer.
    const arena = this.parts.arena;
    const prev = this.previous;
    this.previous = this.touched;
    this.previousN = this.touchedN;
    this.touched = prev;
    this.touchedN = 0;
    if (dropped.length > 0) {
      for (const root of this.roots) if (root) prune(root, this.tickOf);
      for (const slot of dropped) this.release(slot);
    }
    return new PackedBatch(this.t, { count: n, arena, headStart, headEnd, tailStart, tailEnd, t, v, more }, families, samples);
  }

  /** Frees a dropped slot (no trie leaf refers to it any more) for reuse. */
  private release(slot: number): void {
    const h = this.head[slot];
    const tl = this.tail[slot];
    const byTail = this.byParts.get(h);
    byTail?.delete(tl);
    if (byTail?.size === 0) this.byParts.delete(h);
    this.parts.release(h);
    this.parts.release(tl);
    this.free.push(slot);
  }
}

/** A copy of `a` (its first `n` entries) with room for `cap`. */
function grow(a: Int32Array, n: number, cap = a.length * 2): Int32Array<ArrayBuffer> {
  const b = new Int32Array(cap);
  b.set(a.subarray(0, n));
  return b;
}

/** 32-bit FNV-1a of `b`, as an int32 (a small integer for V8, no heap number as a Map key). */
function hashBytes(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h | 0;
}

/**
 * Removes leaves of dropped slots from a trie, and the levels left empty; true when
 * `node` is empty. Runs on ticks where a series went away (pod churn), so it walks with
 * forEach: no entry arrays for the ~13,000 leaves of a full node.
 */
function prune(node: TrieNode, tickOf: Int32Array): boolean {
  const leaves = node.leaves;
  if (leaves) {
    leaves.forEach((slot, name) => {
      if (tickOf[slot] === DROPPED) leaves.delete(name);
    });
    if (leaves.size === 0) node.leaves = undefined;
  }
  if (node.next) pruneChildren(node.next, tickOf);
  if (node.alt) pruneChildren(node.alt, tickOf);
  if (node.next?.size === 0) node.next = undefined;
  if (node.alt?.size === 0) node.alt = undefined;
  return !node.leaves && !node.next && !node.alt;
}

function pruneChildren(m: Map<string, TrieNode>, tickOf: Int32Array): void {
  m.forEach((child, k) => {
    if (prune(child, tickOf)) m.delete(k);
  });
}
