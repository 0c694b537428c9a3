/**
 * The sampler: once per tick runs every source under a deadline, stamps target labels,
 * and hands one {@link Batch} to the consumer (the shipper, or stdout with `--once`).
 * Ticks never overlap: a tick that overruns makes the next one start at the next slot.
 * Series that vanish between ticks get a stale marker in the next batch, so queries
 * stop showing them at once, as Prometheus does for scrape targets.
 */
import type { Label, Labels, Logger, MetricTypeName, TimeSeries } from '../shared/index.js';
import { labelsKey, noopLogger, STALE_NAN, errorMessage } from '../shared/index.js';
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
  private lastSeries = new Map<string, Labels>();
  private identities: ReadonlyMap<string, CachedSeries> = new Map();
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

  /** Runs every source once and returns the batch. */
  async tick(): Promise<Batch> {
    const started = performance.now();
    const t = this.now();
    const deadlineMs = this.opts.deadlineMs ?? Math.floor(this.opts.intervalMs * 0.8);
    const base = Object.entries(this.opts.baseLabels).filter(([, v]) => v !== '');
    const builder = new BatchBuilder(t, base, this.identities);
    await Promise.all(this.opts.sources.map((src, i) => this.runSource(src, i, builder, t, deadlineMs)));
    const batch = builder.finish(this.lastSeries);
    this.lastSeries = builder.seen;
    this.identities = builder.used;
    this.metrics.tickDuration((performance.now() - started) / 1000);
    return batch;
  }

  private async runSource(src: Source, index: number, builder: BatchBuilder, t: number, deadlineMs: number): Promise<void> {
    const ac = new AbortController();
    const started = performance.now();
    const sink = builder.sinkFor(src, index);
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

/** A series' final identity, cached between ticks by the raw form a source gives. */
interface CachedSeries {
  readonly labels: Labels;
  readonly key: string;
}

/** Per-tick state of one series. */
interface TickSeries {
  readonly labels: Labels;
  samples: Array<{ t: number; v: number }>;
}

/**
 * Gathers one tick's samples from every source. The sorted, stamped label set of a
 * series is built once and then found again each tick by the raw form the source gives
 * (family name plus labels in the source's order): sources emit the same series every
 * tick, so the hot path is one string build and two map lookups per sample.
 */
class BatchBuilder {
  readonly seen = new Map<string, Labels>();
  /** Raw form → identity, for the entries used this tick (the next tick's cache). */
  readonly used = new Map<string, CachedSeries>();
  private readonly families = new Map<string, FamilyInfo>();
  private readonly byKey = new Map<string, TickSeries>();

  constructor(
    private readonly t: number,
    private readonly base: ReadonlyArray<readonly [string, string]>,
    private readonly cache: ReadonlyMap<string, CachedSeries>,
  ) {}

  /** A sink that stamps `src`'s target labels and stops accepting after `close`. */
  sinkFor(src: Source, index: number): MetricSink & { close(): void } {
    let open = true;
    const target = Object.entries(src.targetLabels).filter(([, v]) => v !== '');
    const prefix = `${index}\x00`;
    return {
      family: (name, type, help) => {
        if (open && !this.families.has(name)) this.families.set(name, { type, help });
      },
      add: (name, labels, value, t) => {
        if (!open) return;
        let raw = prefix + name;
        for (const k in labels) raw += '\xff' + k + '\xfe' + labels[k];
        let id = this.used.get(raw) ?? this.cache.get(raw);
        if (!id) id = this.identify(name, labels, target);
        this.used.set(raw, id);
        const sample = { t: t ?? this.t, v: value };
        const cur = this.byKey.get(id.key);
        if (cur) cur.samples.push(sample);
        else this.byKey.set(id.key, { labels: id.labels, samples: [sample] });
      },
      close: () => {
        open = false;
      },
    };
  }

  private identify(name: string, labels: Readonly<Record<string, string>>, target: ReadonlyArray<readonly [string, string]>): CachedSeries {
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
    return { labels: ls, key: labelsKey(ls) };
  }

  finish(previous: ReadonlyMap<string, Labels>): Batch {
    let samples = 0;
    const series: TimeSeries[] = [];
    for (const [key, s] of this.byKey) {
      this.seen.set(key, s.labels);
      if (s.samples.length > 1) s.samples.sort((a, b) => a.t - b.t);
      series.push(s);
      samples += s.samples.length;
    }
    for (const [key, labels] of previous) {
      if (!this.seen.has(key)) {
        series.push({ labels, samples: [{ t: this.t, v: STALE_NAN }] });
        samples++;
      }
    }
    return { t: this.t, series, families: this.families, samples };
  }
}
