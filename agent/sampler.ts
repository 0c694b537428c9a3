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
    const builder = new BatchBuilder(t);
    await Promise.all(this.opts.sources.map((src) => this.runSource(src, builder, t, deadlineMs)));
    const batch = builder.finish(this.opts.baseLabels, this.lastSeries);
    this.lastSeries = builder.seen;
    this.metrics.tickDuration((performance.now() - started) / 1000);
    return batch;
  }

  private async runSource(src: Source, builder: BatchBuilder, t: number, deadlineMs: number): Promise<void> {
    const ac = new AbortController();
    const started = performance.now();
    const sink = builder.sinkFor(src);
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

/** Gathers one tick's samples from every source. */
class BatchBuilder {
  readonly seen = new Map<string, Labels>();
  private readonly families = new Map<string, FamilyInfo>();
  private readonly raw: Array<{ labels: Label[]; t: number; v: number }> = [];

  constructor(private readonly t: number) {}

  /** A sink that stamps `src`'s target labels and stops accepting after `close`. */
  sinkFor(src: Source): MetricSink & { close(): void } {
    let open = true;
    const target = Object.entries(src.targetLabels);
    return {
      family: (name, type, help) => {
        if (open && !this.families.has(name)) this.families.set(name, { type, help });
      },
      add: (name, labels, value, t) => {
        if (!open) return;
        const ls: Label[] = [{ name: '__name__', value: name }];
        for (const k in labels) {
          const v = labels[k];
          if (v !== '') ls.push({ name: k, value: v });
        }
        for (const [k, v] of target) if (v !== '' && !(k in labels)) ls.push({ name: k, value: v });
        this.raw.push({ labels: ls, t: t ?? this.t, v: value });
      },
      close: () => {
        open = false;
      },
    };
  }

  finish(base: Readonly<Record<string, string>>, previous: ReadonlyMap<string, Labels>): Batch {
    const baseEntries = Object.entries(base).filter(([, v]) => v !== '');
    const byKey = new Map<string, { labels: Labels; samples: Array<{ t: number; v: number }> }>();
    for (const r of this.raw) {
      for (const [k, v] of baseEntries) if (!r.labels.some((l) => l.name === k)) r.labels.push({ name: k, value: v });
      r.labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const key = labelsKey(r.labels);
      const existing = byKey.get(key);
      if (existing) existing.samples.push({ t: r.t, v: r.v });
      else byKey.set(key, { labels: r.labels, samples: [{ t: r.t, v: r.v }] });
    }
    let samples = 0;
    const series: TimeSeries[] = [];
    for (const [key, s] of byKey) {
      this.seen.set(key, s.labels);
      s.samples.sort((a, b) => a.t - b.t);
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
