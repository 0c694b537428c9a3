/**
 * `POST /api/v1/write`: Prometheus remote_write 1.0 receiver.
 *
 * A request is all-or-nothing: it is validated completely, then appended in one
 * appender; any refusal rolls the whole request back, so a sender can retry it as is.
 * Answers: 204 stored; 400 malformed or refused samples, or a per-request limit
 * exceeded (the body names the problem and the config key); 413 body over the limit;
 * 415 wrong content type or encoding; 429 with `Retry-After` when too many requests are
 * in flight or the sender creates new series faster than allowed (retrying later helps).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Label, Logger, MetricTypeName } from '../../shared/index.js';
import {
  decodeWriteRequestBody,
  errorMessage,
  labelsKey,
  MetricType,
  noopLogger,
  REMOTE_WRITE_CONTENT_TYPE,
  sortLabels,
  validateLabels,
  WireFormatError,
} from '../../shared/index.js';
import type { Appendable } from '../storage/index.js';
import { StorageError } from '../storage/index.js';
import { NewSeriesLimiter, SeenSeries, type SeriesLookup } from './limits.js';
// The auth plugin's request decoration (`kubepulseIdentity`), read by the default `identify`.
import type {} from '../auth/identity.js';

export interface WritePluginOptions {
  appendable: Appendable;
  /** Largest accepted compressed body, bytes. */
  maxBodyBytes: number;
  /** Largest accepted decompressed body, bytes. */
  maxDecompressedBytes: number;
  /** Series in one request; 0 = no limit. Default 20,000. */
  maxSeriesPerRequest?: number;
  /** Labels of one series, `__name__` included; 0 = no limit. Default 64. */
  maxLabelsPerSeries?: number;
  /** Length of a label name, UTF-16 code units; 0 = no limit. Default 1024. */
  maxLabelNameLength?: number;
  /** Length of a label value; 0 = no limit. Default 4096. */
  maxLabelValueLength?: number;
  /** Series one sender may create per minute (burst of the same size); 0 = no limit. Default 20,000. */
  maxNewSeriesPerMinute?: number;
  /** Write requests in flight (receiving or storing); 0 = no limit. Default 32. */
  maxConcurrentRequests?: number;
  /** Tells which series the store already holds; without it the plugin remembers hashes itself. */
  seriesLookup?: SeriesLookup;
  /**
   * The sender a request counts against for the new-series limit. Default: the
   * authenticated identity (auth plugin) and the client address.
   */
  identify?: (req: FastifyRequest) => string;
  registry?: Registry;
  logger?: Logger;
  now?: () => number;
}

/** Defaults of the optional limits of {@link WritePluginOptions}. */
export const DEFAULT_INGEST_LIMITS = {
  maxSeriesPerRequest: 20_000,
  maxLabelsPerSeries: 64,
  maxLabelNameLength: 1024,
  maxLabelValueLength: 4096,
  maxNewSeriesPerMinute: 20_000,
  maxConcurrentRequests: 32,
} as const;

export interface IngestMetrics {
  requests: Counter<'code'>;
  samples: Counter;
  rejected: Counter<'reason'>;
  duration: Histogram;
  throttled: Counter<'reason'>;
  inflight: Gauge;
}

export function ingestMetrics(registry?: Registry): IngestMetrics {
  const registers = registry ? [registry] : [];
  return {
    requests: new Counter({ name: 'kubepulse_ingest_requests_total', help: 'Remote-write requests received, by HTTP status code.', labelNames: ['code'], registers }),
    samples: new Counter({ name: 'kubepulse_ingest_samples_total', help: 'Samples accepted by the remote-write receiver.', registers }),
    rejected: new Counter({ name: 'kubepulse_ingest_samples_rejected_total', help: 'Samples refused by the remote-write receiver, by reason.', labelNames: ['reason'], registers }),
    duration: new Histogram({ name: 'kubepulse_ingest_request_duration_seconds', help: 'Time to decode, validate and store one remote-write request.', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers }),
    throttled: new Counter({ name: 'kubepulse_ingest_requests_throttled_total', help: 'Remote-write requests answered 429, by limit.', labelNames: ['reason'], registers }),
    inflight: new Gauge({ name: 'kubepulse_ingest_requests_in_flight', help: 'Remote-write requests being received or stored.', registers }),
  };
}

const TYPE_NAMES: Record<number, MetricTypeName> = {
  [MetricType.UNKNOWN]: 'untyped',
  [MetricType.COUNTER]: 'counter',
  [MetricType.GAUGE]: 'gauge',
  [MetricType.HISTOGRAM]: 'histogram',
  [MetricType.GAUGEHISTOGRAM]: 'gaugehistogram',
  [MetricType.SUMMARY]: 'summary',
  [MetricType.INFO]: 'info',
  [MetricType.STATESET]: 'stateset',
};

export const writePlugin: FastifyPluginAsync<WritePluginOptions> = async (app, opts) => {
  const log = (opts.logger ?? noopLogger()).child({ component: 'ingest' });
  const m = ingestMetrics(opts.registry);

  // Encapsulated: these parsers only apply to routes of this plugin. Every body arrives
  // raw, so a wrong content type gets our 415 rather than a JSON parse error.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => done(null, body));

  const lim = { ...DEFAULT_INGEST_LIMITS, ...definedOnly(opts) };
  const limiter = lim.maxNewSeriesPerMinute > 0 ? new NewSeriesLimiter(lim.maxNewSeriesPerMinute, opts.now) : undefined;
  const seen = limiter && !opts.seriesLookup ? new SeenSeries() : undefined;
  const identify = opts.identify ?? ((req: FastifyRequest) => `${req.kubepulseIdentity?.name ?? 'anonymous'}@${req.ip}`);
  for (const r of ['concurrency', 'new_series']) m.throttled.inc({ reason: r }, 0);
  let inflight = 0;

  const fail = (reply: FastifyReply, code: number, reason: string, message: string, samples = 0, retryAfterS?: number) => {
    m.requests.inc({ code: String(code) });
    if (samples > 0) m.rejected.inc({ reason }, samples);
    if (code === 429) m.throttled.inc({ reason });
    log.debug({ code, reason, err: message }, 'Remote-write request refused');
    if (retryAfterS !== undefined) reply.header('Retry-After', String(retryAfterS));
    return reply.code(code).type('text/plain; charset=utf-8').send(message + '\n');
  };

  // Before the body is read: a request over the concurrency limit costs no buffer.
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.url !== '/api/v1/write') return;
    if (lim.maxConcurrentRequests > 0 && inflight >= lim.maxConcurrentRequests) {
      reply.header('Connection', 'close');
      return fail(reply, 429, 'concurrency', `too many remote-write requests in flight (limit ${lim.maxConcurrentRequests}, ingest.max_concurrent_requests); retry later`, 0, 1);
    }
    inflight++;
    m.inflight.set(inflight);
    let done = false;
    // 'close' fires however the exchange ends, aborted bodies included.
    reply.raw.once('close', () => {
      if (done) return;
      done = true;
      inflight--;
      m.inflight.set(inflight);
    });
  });

  app.setErrorHandler((err, _req, reply) => {
    const code = (err as { statusCode?: number }).statusCode ?? 500;
    if (code === 413) {
      return fail(reply, 413, 'too_large', `request body too large: the limit is ${opts.maxBodyBytes} bytes (collector ingest.max_body_bytes)`);
    }
    if (code >= 400 && code < 500) return fail(reply, code, 'bad_request', errorMessage(err));
    log.error({ err }, 'Remote-write request failed');
    return fail(reply, 500, 'internal', 'internal error while storing the request');
  });

  app.post('/api/v1/write', { bodyLimit: opts.maxBodyBytes }, async (req, reply) => {
    const end = m.duration.startTimer();
    try {
      const ctype = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (ctype !== REMOTE_WRITE_CONTENT_TYPE) {
        return fail(reply, 415, 'content_type', `unsupported content type ${JSON.stringify(ctype)}: remote_write 1.0 expects "${REMOTE_WRITE_CONTENT_TYPE}"`);
      }
      const enc = (req.headers['content-encoding'] ?? 'snappy').toString().trim().toLowerCase();
      if (enc !== 'snappy') {
        return fail(reply, 415, 'content_encoding', `unsupported content encoding ${JSON.stringify(enc)}: remote_write 1.0 expects "snappy"`);
      }
      const body = req.body;
      if (!Buffer.isBuffer(body)) return fail(reply, 400, 'bad_request', 'empty request body');

      let wr;
      try {
        wr = decodeWriteRequestBody(body, { maxDecompressedBytes: opts.maxDecompressedBytes });
      } catch (err) {
        if (err instanceof WireFormatError) return fail(reply, 400, 'malformed', errorMessage(err));
        throw err;
      }

      const nSeries = wr.timeseries.length;
      if (lim.maxSeriesPerRequest > 0 && nSeries > lim.maxSeriesPerRequest) {
        return fail(reply, 400, 'series_limit', `request has ${nSeries} series, more than the limit of ${lim.maxSeriesPerRequest} (ingest.max_series_per_request); send smaller requests`, countSamples(wr.timeseries));
      }
      let total = 0;
      const fresh = new Map<string, number>();
      for (let i = 0; i < nSeries; i++) {
        const ts = wr.timeseries[i];
        total += ts.samples.length;
        const labelProblem = checkLabelLimits(ts.labels, lim);
        if (labelProblem) return fail(reply, 400, labelProblem.reason, `series ${i}: ${labelProblem.message}`, countSamples(wr.timeseries));
        // The spec says senders sort labels; some do not, and sorting costs little.
        sortLabels(ts.labels as Label[]);
        const problems = validateLabels(ts.labels);
        if (problems.length) {
          return fail(reply, 400, 'invalid_labels', `series ${i}: ${problems.join('; ')}`, countSamples(wr.timeseries));
        }
        if (limiter && ts.samples.length > 0) {
          const known = opts.seriesLookup ? opts.seriesLookup.hasSeries(ts.labels) : undefined;
          if (known === true) continue;
          const key = labelsKey(ts.labels);
          if (known === undefined && seen?.has(key)) continue;
          fresh.set(key, i);
        }
      }
      if (limiter && fresh.size > 0) {
        if (fresh.size > limiter.capacity) {
          return fail(reply, 400, 'new_series_limit', `request creates ${fresh.size} new series, more than a sender may create per minute (${limiter.capacity}, ingest.max_new_series_per_minute)`, total);
        }
        const waitMs = limiter.take(identify(req), fresh.size);
        if (waitMs > 0) {
          return fail(reply, 429, 'new_series', `too many new series from this sender (limit ${limiter.capacity} a minute, ingest.max_new_series_per_minute); retry later`, 0, Math.ceil(waitMs / 1000));
        }
      }

      const app = opts.appendable.appender();
      try {
        for (const ts of wr.timeseries) {
          for (const s of ts.samples) app.append(ts.labels, s.t, s.v);
        }
        for (const md of wr.metadata ?? []) {
          if (md.metricFamilyName) app.updateMetadata({ metric: md.metricFamilyName, type: TYPE_NAMES[md.type] ?? 'untyped', help: md.help, unit: md.unit });
        }
      } catch (err) {
        app.rollback();
        if (err instanceof StorageError) return fail(reply, 400, err.reason, `${errorMessage(err)}; nothing from this request was stored`, total);
        throw err;
      }
      app.commit();
      if (seen) for (const key of fresh.keys()) seen.add(key);
      m.samples.inc(total);
      m.requests.inc({ code: '204' });
      return reply.code(204).send();
    } finally {
      end();
    }
  });
};

function countSamples(ts: ReadonlyArray<{ samples: readonly unknown[] }>): number {
  let n = 0;
  for (const s of ts) n += s.samples.length;
  return n;
}

type Limits = { -readonly [K in keyof typeof DEFAULT_INGEST_LIMITS]: number };

function definedOnly(opts: WritePluginOptions): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const k of Object.keys(DEFAULT_INGEST_LIMITS) as Array<keyof Limits>) {
    const v = opts[k];
    if (v !== undefined) {
      if (!(Number.isInteger(v) && v >= 0)) throw new Error(`ingest limit ${k}: expected a non-negative integer, got ${v}`);
      out[k] = v;
    }
  }
  return out;
}

/** Checked before anything else touches the labels, so a huge label costs no sorting. */
function checkLabelLimits(labels: readonly Label[], lim: Limits): { reason: string; message: string } | undefined {
  if (lim.maxLabelsPerSeries > 0 && labels.length > lim.maxLabelsPerSeries) {
    return { reason: 'label_limit', message: `${labels.length} labels, more than the limit of ${lim.maxLabelsPerSeries} (ingest.max_labels_per_series)` };
  }
  for (const l of labels) {
    if (lim.maxLabelNameLength > 0 && l.name.length > lim.maxLabelNameLength) {
      return { reason: 'label_length', message: `label name ${JSON.stringify(l.name.slice(0, 64))}… is ${l.name.length} characters, more than the limit of ${lim.maxLabelNameLength} (ingest.max_label_name_length)` };
    }
    if (lim.maxLabelValueLength > 0 && l.value.length > lim.maxLabelValueLength) {
      return { reason: 'label_length', message: `value of label ${JSON.stringify(l.name.slice(0, 64))} is ${l.value.length} characters, more than the limit of ${lim.maxLabelValueLength} (ingest.max_label_value_length)` };
    }
  }
  return undefined;
}
