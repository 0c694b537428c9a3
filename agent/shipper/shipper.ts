/**
 * The shipper: turns each tick's batch into remote_write requests, writes them to the
 * {@link Spool} (on disk with `spoolDir`) before the first send attempt, and pushes
 * them to the collector, forgetting a request only after a 2xx. 5xx, 401, 403, 408, 429
 * and network errors are retried with exponential backoff and jitter (honouring
 * `Retry-After`); other 4xx mean the
 * collector will never accept the request, so it is dropped, logged and counted. When
 * the spool is full the oldest requests are dropped and counted, never silently.
 *
 * Order after an outage ("live first, then backfill"): requests appended in the last
 * `liveAgeMs` are live and go out at once; the backlog follows oldest-first, paced at
 * `backfillSamplesPerSecond`, so a collector coming back is not flattened by every agent
 * at once and dashboards show the present first. The collector takes the older samples
 * through its out-of-order window; once the oldest undelivered sample is older than
 * `liveFirstMaxAgeMs` (keep it under the collector's window), live requests queue behind
 * the backlog instead, so every sample stays within what the store accepts, in order.
 *
 * One request is in flight at a time. Requests go over `node:http`/`node:https`, which
 * takes a custom CA per agent (Node 20's fetch cannot).
 */
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Logger, MetricMetadata, PackedSeries, TimeSeries } from '../../shared/index.js';
import {
  backoffDelay,
  encodePackedWriteRequestBody,
  encodeWriteRequestBody,
  errorMessage,
  MetricType,
  noopLogger,
  REMOTE_WRITE_CONTENT_TYPE,
  REMOTE_WRITE_VERSION,
  sleep,
} from '../../shared/index.js';
import type { Batch, FamilyInfo } from '../sampler.js';
import { Spool, type SpoolRecord } from './spool.js';

export interface ShipperMetrics {
  sent(samples: number): void;
  failed(samples: number): void;
  /** `reason`: `spool_full`, `queue_full` (in-memory cap), `rejected` (4xx), `unreadable` (spool I/O). */
  dropped(reason: string, samples: number): void;
  /** Requests waiting to be sent (spooled, undelivered). */
  queueLength(batches: number): void;
  pushDuration(seconds: number): void;
  /** Bytes the spool holds. Optional. */
  spoolBytes?(bytes: number): void;
  /** Samples waiting to be sent. Optional. */
  pendingSamples?(samples: number): void;
}

export interface ShipperOptions {
  /** Collector base URL; requests go to `<url>/api/v1/write` unless the URL already names a path. */
  url: string;
  /**
   * Requests kept in memory while the collector is away when there is no `spoolDir`;
   * the oldest is dropped beyond (reason `queue_full`). Ignored with a disk spool.
   */
  maxQueueBatches?: number;
  /** Largest number of series per request; bigger batches are split. */
  maxSeriesPerRequest: number;
  timeoutMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  /** Bearer token sent on every push, read fresh each time (tokens rotate). */
  bearerToken?: () => string | undefined;
  /** Directory of the on-disk spool; absent or '' keeps requests in memory only. */
  spoolDir?: string;
  /** Cap on the spool, bytes. Default 256 MiB. */
  spoolMaxBytes?: number;
  /** Spool segment size, bytes. Default min(4 MiB, cap / 8). */
  spoolSegmentBytes?: number;
  /** fsync every spooled request, not only sealed segments. Default false. */
  spoolFsync?: boolean;
  /** Merge the requests of segments sealed during an outage (labels stored once per series). Default true. */
  spoolCompact?: boolean;
  /** Pace of the backlog after an outage, samples per second. Default 20,000. */
  backfillSamplesPerSecond?: number;
  /** A request younger than this is live and skips the backlog. Default 30 s. */
  liveAgeMs?: number;
  /** Live requests go first only while the oldest undelivered sample is younger than this. Default 30 min. */
  liveFirstMaxAgeMs?: number;
  /** PEM file of the CA(s) that sign the collector's certificate (https URLs). Re-read when it changes. */
  caFile?: string;
  /** Skip certificate verification (testing only; logged at start). */
  insecureSkipVerify?: boolean;
  logger?: Logger;
  metrics?: ShipperMetrics;
  now?: () => number;
}

const NOOP: ShipperMetrics = { sent() {}, failed() {}, dropped() {}, queueLength() {}, pushDuration() {} };

/** Why a push did not succeed, and whether trying again can help. */
export class PushError extends Error {
  constructor(message: string, readonly retryable: boolean, readonly status?: number, readonly retryAfterMs?: number) {
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

/** Parses `Retry-After` (seconds or an HTTP date) into ms; undefined when absent or bad. */
export function parseRetryAfter(v: string | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export class Shipper {
  private readonly opts: ShipperOptions;
  private readonly log: Logger;
  private readonly metrics: ShipperMetrics;
  private readonly url: URL;
  private readonly spool: Spool;
  private readonly abort = new AbortController();
  private readonly agent: http.Agent;
  private readonly now: () => number;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly families = new Map<string, FamilyInfo>();
  private lastMetadataAt = 0;
  private newFamilies = false;
  private consecutiveFailures = 0;
  private nextBackfillAt = 0;
  private ca: { mtimeMs: number; pem: Buffer } | undefined;

  constructor(opts: ShipperOptions) {
    this.opts = opts;
    this.log = (opts.logger ?? noopLogger()).child({ component: 'shipper' });
    this.metrics = opts.metrics ?? NOOP;
    this.url = new URL(writeUrl(opts.url));
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') throw new Error(`collector URL ${opts.url}: expected http:// or https://`);
    this.now = opts.now ?? Date.now;
    const dir = opts.spoolDir || undefined;
    // Without a disk, the byte cap stands in for the old batch cap (~64 KiB a request),
    // and RAM is not a place for 256 MiB of backlog: 64 MiB at most unless asked.
    const memCap = Math.max(4096, Math.min((opts.maxQueueBatches ?? 1024) * 64 * 1024, opts.spoolMaxBytes ?? 64 * 1024 * 1024));
    this.spool = new Spool({
      dir,
      maxBytes: dir ? (opts.spoolMaxBytes ?? 256 * 1024 * 1024) : memCap,
      segmentBytes: opts.spoolSegmentBytes,
      fsync: opts.spoolFsync,
      compact: opts.spoolCompact,
      maxSeriesPerRecord: opts.maxSeriesPerRequest,
      logger: opts.logger,
      now: this.now,
      onDrop: (n) => this.metrics.dropped(dir ? 'spool_full' : 'queue_full', n),
    });
    const agentOpts = { keepAlive: true, maxSockets: 1 };
    this.agent = this.url.protocol === 'https:' ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    if (opts.insecureSkipVerify) this.log.warn('TLS certificate verification of the collector is OFF (insecure_skip_verify)');
    if (opts.caFile) this.loadCa();
    this.report();
  }

  /** Splits a batch into requests and spools them; never blocks on the network. */
  enqueue(batch: Batch): void {
    for (const [name, info] of batch.families) {
      if (!this.families.has(name)) {
        this.families.set(name, info);
        this.newFamilies = true;
      }
    }
    const now = this.now();
    // Metadata rides along once a minute and whenever families appear, as Prometheus's
    // remote_write sends it periodically rather than with every request.
    let metadata: MetricMetadata[] = [];
    if (this.newFamilies || now - this.lastMetadataAt >= 60_000) {
      metadata = [...this.families].map(([name, f]) => ({ type: TYPE[f.type] ?? MetricType.UNKNOWN, metricFamilyName: name, help: f.help, unit: '' }));
      this.newFamilies = false;
      this.lastMetadataAt = now;
    }
    const max = this.opts.maxSeriesPerRequest;
    const packed = batch.packed;
    // A sampler's batch is encoded from its packed form: no series objects are built.
    const count = packed ? packed.count : batch.series.length;
    for (let i = 0; i < count || (i === 0 && metadata.length); i += max) {
      const to = Math.min(count, i + max);
      const meta = i === 0 ? metadata : [];
      if (packed) this.appendPacked(packed, i, to, meta);
      else this.append(batch.series.slice(i, to), meta);
      if (to === i) break;
    }
    this.report();
    this.wake?.();
  }

  private append(series: TimeSeries[], metadata: MetricMetadata[]): void {
    let samples = 0;
    let minT = Infinity;
    let maxT = -Infinity;
    for (const s of series) {
      samples += s.samples.length;
      for (const x of s.samples) {
        if (x.t < minT) minT = x.t;
        if (x.t > maxT) maxT = x.t;
      }
    }
    this.spool.append(encodeWriteRequestBody({ timeseries: series, metadata }), samples, minT, maxT);
  }

  private appendPacked(p: PackedSeries, from: number, to: number, metadata: MetricMetadata[]): void {
    let samples = 0;
    let minT = Infinity;
    let maxT = -Infinity;
    for (let i = from; i < to; i++) {
      const ms = p.more?.get(i);
      if (ms) {
        samples += ms.length;
        for (const x of ms) {
          if (x.t < minT) minT = x.t;
          if (x.t > maxT) maxT = x.t;
        }
      } else {
        samples++;
        if (p.t[i] < minT) minT = p.t[i];
        if (p.t[i] > maxT) maxT = p.t[i];
      }
    }
    // The body is written out (or copied) by the spool at once: no copy of every push.
    this.spool.append(encodePackedWriteRequestBody(p, from, to, metadata, { transient: true }), samples, minT, maxT, true);
  }

  /** Number of requests waiting to be sent. */
  get pending(): number {
    return this.spool.pendingRecords;
  }

  /** Number of samples waiting to be sent. */
  get pendingSamples(): number {
    return this.spool.pendingSamples;
  }

  /** Bytes the spool holds. */
  get spoolBytes(): number {
    return this.spool.bytes;
  }

  /** Resolves when the spool's background compaction has caught up (tests, benchmarks). */
  spoolSettled(): Promise<void> {
    return this.spool.idle();
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** The next request to send, or how long to wait for one. */
  private pick(now: number): { rec: SpoolRecord; backfill: boolean } | { waitMs: number } | undefined {
    const liveAge = this.opts.liveAgeMs ?? 30_000;
    const liveFirstMax = this.opts.liveFirstMaxAgeMs ?? 30 * 60_000;
    let oldest: SpoolRecord | undefined;
    let oldestLive: SpoolRecord | undefined;
    for (const r of this.spool.pending()) {
      oldest ??= r;
      if (r.enqueuedAt > 0 && now - r.enqueuedAt <= liveAge) {
        oldestLive = r;
        break;
      }
    }
    if (!oldest) return undefined;
    if (oldest === oldestLive) return { rec: oldest, backfill: false };
    const backlogTooOld = Number.isFinite(oldest.minT) && now - oldest.minT > liveFirstMax;
    if (oldestLive && !backlogTooOld) return { rec: oldestLive, backfill: false };
    // Sub-millisecond waits are not worth a timer (and would spin under a frozen test clock).
    if (this.nextBackfillAt - now >= 1) return { waitMs: this.nextBackfillAt - now };
    return { rec: oldest, backfill: true };
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const next = this.pick(this.now());
      if (!next || 'waitMs' in next) {
        await new Promise<void>((resolve) => {
          // Every way out removes the others: one wait per idle moment, for days, must
          // not pile up abort listeners or timers.
          const done = () => {
            clearTimeout(t);
            signal.removeEventListener('abort', done);
            resolve();
          };
          this.wake = done;
          const t = next ? setTimeout(done, next.waitMs) : undefined;
          t?.unref();
          signal.addEventListener('abort', done, { once: true });
        });
        this.wake = undefined;
        continue;
      }
      const { rec, backfill } = next;
      let body: Buffer;
      try {
        body = this.spool.read(rec);
      } catch (err) {
        this.spool.ack(rec);
        this.metrics.dropped('unreadable', rec.samples);
        this.log.error({ err: errorMessage(err), samples: rec.samples }, 'Could not read a spooled request back; dropping it');
        continue;
      }
      const started = this.now();
      try {
        await this.send(body);
        this.spool.ack(rec);
        this.metrics.sent(rec.samples);
        if (backfill) {
          const rate = this.opts.backfillSamplesPerSecond ?? 20_000;
          this.nextBackfillAt = Math.max(started, this.nextBackfillAt) + (rec.samples / rate) * 1000;
        }
        if (this.consecutiveFailures > 0) {
          this.log.info({ failures: this.consecutiveFailures, backlogSamples: this.spool.pendingSamples }, 'Collector reachable again; backfilling');
        }
        this.consecutiveFailures = 0;
      } catch (err) {
        const pe = err instanceof PushError ? err : new PushError(errorMessage(err), true);
        if (!pe.retryable) {
          this.spool.ack(rec);
          this.metrics.dropped('rejected', rec.samples);
          this.log.error({ status: pe.status, err: pe.message, samples: rec.samples }, 'Collector refused a request; dropping it (not retryable)');
        } else {
          this.metrics.failed(rec.samples);
          let delay = backoffDelay(this.consecutiveFailures, this.opts.minBackoffMs, this.opts.maxBackoffMs);
          if (pe.retryAfterMs !== undefined) delay = Math.min(Math.max(delay, pe.retryAfterMs), this.opts.maxBackoffMs);
          if (this.consecutiveFailures === 0) {
            if (pe.status === 401 || pe.status === 403) this.log.error({ err: pe.message, status: pe.status }, 'Collector refused our credentials; keeping the data and retrying (check the token and the collector\'s auth.kubernetes.push_identities)');
            else this.log.warn({ err: pe.message, status: pe.status }, 'Push failed; retrying with backoff');
          }
          this.consecutiveFailures++;
          await sleep(delay, signal);
        }
      }
      this.report();
    }
  }

  private report(): void {
    this.metrics.queueLength(this.spool.pendingRecords);
    this.metrics.spoolBytes?.(this.spool.bytes);
    this.metrics.pendingSamples?.(this.spool.pendingSamples);
  }

  private loadCa(): Buffer | undefined {
    const file = this.opts.caFile;
    if (!file) return undefined;
    try {
      const mtimeMs = statSync(file).mtimeMs;
      if (!this.ca || this.ca.mtimeMs !== mtimeMs) this.ca = { mtimeMs, pem: readFileSync(file) };
    } catch (err) {
      if (!this.ca) throw new Error(`reading the collector CA file ${file}: ${errorMessage(err)}`, { cause: err });
      // Mid-rotation: keep the CA we have.
    }
    return this.ca.pem;
  }

  /** Sends one request; throws PushError. */
  async push(series: TimeSeries[], metadata: MetricMetadata[] = []): Promise<void> {
    await this.send(encodeWriteRequestBody({ timeseries: series, metadata }));
  }

  private send(body: Buffer): Promise<void> {
    const headers: Record<string, string | number> = {
      'Content-Type': REMOTE_WRITE_CONTENT_TYPE,
      'Content-Encoding': 'snappy',
      'Content-Length': body.length,
      'X-Prometheus-Remote-Write-Version': REMOTE_WRITE_VERSION,
      'User-Agent': 'kubepulse-agent',
    };
    const token = this.opts.bearerToken?.();
    if (token) headers.Authorization = `Bearer ${token}`;
    const u = this.url;
    const tls = u.protocol === 'https:' ? { ca: this.loadCa(), rejectUnauthorized: !this.opts.insecureSkipVerify } : {};
    const started = performance.now();
    return new Promise<void>((resolve, reject) => {
      const lib = u.protocol === 'https:' ? https : http;
      const req = lib.request(
        {
          protocol: u.protocol,
          hostname: u.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: u.port || undefined,
          path: u.pathname + u.search,
          method: 'POST',
          headers,
          agent: this.agent,
          signal: this.abort.signal,
          timeout: this.opts.timeoutMs,
          ...tls,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            // Only the start of an error body is ever shown.
            if (size < 4096) chunks.push(c);
            size += c.length;
          });
          res.on('error', (err) => reject(new PushError(`reading the answer from ${u.origin}: ${errorMessage(err)}`, true)));
          res.on('end', () => {
            this.metrics.pushDuration((performance.now() - started) / 1000);
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve();
            const text = Buffer.concat(chunks).toString('utf8').trim().slice(0, 512);
            // 401/403 are retried too: a token being rotated or an RBAC fix in progress
            // must not cost data; the spool bounds what waits meanwhile.
            const retryable = status >= 500 || status === 429 || status === 408 || status === 401 || status === 403;
            const ra = res.headers['retry-after'];
            reject(new PushError(`collector answered ${status}: ${text}`, retryable, status, parseRetryAfter(Array.isArray(ra) ? ra[0] : ra)));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.opts.timeoutMs} ms`)));
      req.on('error', (err) => {
        this.metrics.pushDuration((performance.now() - started) / 1000);
        reject(new PushError(`sending to ${u.origin}: ${errorMessage(err)}`, true));
      });
      req.end(body);
    });
  }

  /**
   * Stops sending. Tries for up to `timeoutMs` to deliver what is pending first; what
   * is left stays in the disk spool for the next start (or is lost, in memory mode, and
   * logged).
   */
  async stop(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.spool.pendingRecords > 0 && this.consecutiveFailures === 0 && Date.now() < deadline) {
      await sleep(20);
    }
    this.abort.abort();
    this.wake?.();
    await this.loop;
    this.agent.destroy();
    if (this.spool.pendingRecords) {
      const where = this.opts.spoolDir ? `kept in ${this.opts.spoolDir} for the next start` : 'lost (no spool directory)';
      this.log.warn({ samples: this.spool.pendingSamples, requests: this.spool.pendingRecords }, `Stopped with unsent samples, ${where}`);
    }
    this.spool.close();
  }
}
