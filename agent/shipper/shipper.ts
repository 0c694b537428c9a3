/**
 * The shipper: takes each tick's batch, keeps it in a bounded in-memory queue and pushes
 * it to the collector with remote_write, oldest first. 5xx, 429 and network errors are
 * retried with exponential backoff and jitter; other 4xx mean the collector will never
 * accept the request, so it is dropped, logged and counted. When the queue is full the
 * oldest batch is dropped and counted, never silently.
 */
import type { Logger, MetricMetadata, TimeSeries } from '../../shared/index.js';
import {
  backoffDelay,
  encodeWriteRequestBody,
  errorMessage,
  MetricType,
  noopLogger,
  REMOTE_WRITE_CONTENT_TYPE,
  REMOTE_WRITE_VERSION,
  sleep,
} from '../../shared/index.js';
import type { Batch, FamilyInfo } from '../sampler.js';

export interface ShipperMetrics {
  sent(samples: number): void;
  failed(samples: number): void;
  dropped(reason: string, samples: number): void;
  queueLength(batches: number): void;
  pushDuration(seconds: number): void;
}

export interface ShipperOptions {
  /** Collector base URL; requests go to `<url>/api/v1/write` unless the URL already names a path. */
  url: string;
  /** Batches kept while the collector is away; the oldest is dropped beyond. */
  maxQueueBatches: number;
  /** Largest number of series per request; bigger batches are split. */
  maxSeriesPerRequest: number;
  timeoutMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  /** Bearer token sent on every push, read fresh each time (tokens rotate). */
  bearerToken?: () => string | undefined;
  logger?: Logger;
  metrics?: ShipperMetrics;
  fetchImpl?: typeof fetch;
}

const NOOP: ShipperMetrics = { sent() {}, failed() {}, dropped() {}, queueLength() {}, pushDuration() {} };

/** Why a push did not succeed, and whether trying again can help. */
export class PushError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly status?: number) {
    super(message);
  }
}

const TYPE: Record<string, MetricType> = {
  counter: MetricType.COUNTER,
  gauge: MetricType.GAUGE,
  histogram: MetricType.HISTOGRAM,
  summary: MetricType.SUMMARY,
  info: MetricType.INFO,
  stateset: MetricType.STATESET,
  gaugehistogram: MetricType.GAUGEHISTOGRAM,
};

export function writeUrl(base: string): string {
  const u = new URL(base);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/api/v1/write';
  return u.toString();
}

export class Shipper {
  private readonly opts: ShipperOptions;
  private readonly log: Logger;
  private readonly metrics: ShipperMetrics;
  private readonly url: string;
  private readonly queue: Array<{ series: TimeSeries[]; metadata: MetricMetadata[]; samples: number }> = [];
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly families = new Map<string, FamilyInfo>();
  private lastMetadataAt = 0;
  private newFamilies = false;
  private consecutiveFailures = 0;

  constructor(opts: ShipperOptions) {
    this.opts = opts;
    this.log = (opts.logger ?? noopLogger()).child({ component: 'shipper' });
    this.metrics = opts.metrics ?? NOOP;
    this.url = writeUrl(opts.url);
  }

  /** Queues a batch for sending; never blocks. */
  enqueue(batch: Batch): void {
    for (const [name, info] of batch.families) {
      if (!this.families.has(name)) {
        this.families.set(name, info);
        this.newFamilies = true;
      }
    }
    const now = Date.now();
    // Metadata rides along once a minute and whenever families appear, as Prometheus's
    // remote_write sends it periodically rather than with every request.
    let metadata: MetricMetadata[] = [];
    if (this.newFamilies || now - this.lastMetadataAt >= 60_000) {
      metadata = [...this.families].map(([name, f]) => ({ type: TYPE[f.type] ?? MetricType.UNKNOWN, metricFamilyName: name, help: f.help, unit: '' }));
      this.newFamilies = false;
      this.lastMetadataAt = now;
    }
    const max = this.opts.maxSeriesPerRequest;
    for (let i = 0; i < batch.series.length || (i === 0 && metadata.length); i += max) {
      const series = batch.series.slice(i, i + max);
      let samples = 0;
      for (const s of series) samples += s.samples.length;
      this.queue.push({ series, metadata: i === 0 ? metadata : [], samples });
      if (series.length === 0) break;
    }
    while (this.queue.length > this.opts.maxQueueBatches) {
      const dropped = this.queue.shift();
      if (dropped) {
        this.metrics.dropped('queue_full', dropped.samples);
        this.log.warn({ dropped: dropped.samples, queued: this.queue.length }, 'Send queue full, dropping the oldest batch');
      }
    }
    this.metrics.queueLength(this.queue.length);
    this.wake?.();
  }

  /** Number of requests waiting to be sent. */
  get pending(): number {
    return this.queue.length;
  }

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const next = this.queue[0];
      if (!next) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
        this.wake = undefined;
        continue;
      }
      try {
        await this.push(next.series, next.metadata);
        this.queue.shift();
        this.metrics.sent(next.samples);
        if (this.consecutiveFailures > 0) this.log.info({ failures: this.consecutiveFailures }, 'Collector reachable again');
        this.consecutiveFailures = 0;
      } catch (err) {
        const pe = err instanceof PushError ? err : new PushError(errorMessage(err), true);
        if (!pe.retryable) {
          this.queue.shift();
          this.metrics.dropped('rejected', next.samples);
          this.log.error({ status: pe.status, err: pe.message, samples: next.samples }, 'Collector refused a batch; dropping it (not retryable)');
        } else {
          this.metrics.failed(next.samples);
          const delay = backoffDelay(this.consecutiveFailures, this.opts.minBackoffMs, this.opts.maxBackoffMs);
          if (this.consecutiveFailures === 0) this.log.warn({ err: pe.message, status: pe.status }, 'Push failed; retrying with backoff');
          this.consecutiveFailures++;
          await sleep(delay, signal);
        }
      }
      this.metrics.queueLength(this.queue.length);
    }
  }

  /** Sends one request; throws PushError. */
  async push(series: TimeSeries[], metadata: MetricMetadata[] = []): Promise<void> {
    const body = encodeWriteRequestBody({ timeseries: series, metadata });
    const headers: Record<string, string> = {
      'Content-Type': REMOTE_WRITE_CONTENT_TYPE,
      'Content-Encoding': 'snappy',
      'X-Prometheus-Remote-Write-Version': REMOTE_WRITE_VERSION,
      'User-Agent': 'kubepulse-agent',
    };
    const token = this.opts.bearerToken?.();
    if (token) headers.Authorization = `Bearer ${token}`;
    const started = performance.now();
    let res: Response;
    try {
      res = await (this.opts.fetchImpl ?? fetch)(this.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.opts.timeoutMs)]),
      });
    } catch (err) {
      throw new PushError(`sending to ${this.url}: ${errorMessage((err as Error).cause ?? err)}`, true);
    } finally {
      this.metrics.pushDuration((performance.now() - started) / 1000);
    }
    if (res.ok) {
      await res.body?.cancel();
      return;
    }
    const text = (await res.text().catch(() => '')).trim().slice(0, 512);
    const retryable = res.status >= 500 || res.status === 429;
    throw new PushError(`collector answered ${res.status}: ${text}`, retryable, res.status);
  }

  /**
   * Stops sending. Tries for up to `timeoutMs` to deliver what is queued first, so a
   * clean shutdown loses nothing the collector can take.
   */
  async stop(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 && this.consecutiveFailures === 0 && Date.now() < deadline) {
      await sleep(20);
    }
    this.abort.abort();
    this.wake?.();
    await this.loop;
    if (this.queue.length) {
      const samples = this.queue.reduce((n, b) => n + b.samples, 0);
      this.log.warn({ samples, batches: this.queue.length }, 'Stopped with unsent samples');
    }
  }
}
