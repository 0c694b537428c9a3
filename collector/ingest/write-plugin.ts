/**
 * `POST /api/v1/write`: Prometheus remote_write 1.0 receiver.
 *
 * A request is all-or-nothing: it is validated completely, then appended in one
 * appender; any refusal rolls the whole request back, so a sender can retry it as is.
 * Answers: 204 stored; 400 malformed or refused samples (the body names the problem);
 * 413 body over the limit; 415 wrong content type or encoding.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';
import { Counter, Histogram } from 'prom-client';
import type { Label, Logger, MetricTypeName } from '../../shared/index.js';
import {
  decodeWriteRequestBody,
  errorMessage,
  MetricType,
  noopLogger,
  REMOTE_WRITE_CONTENT_TYPE,
  sortLabels,
  validateLabels,
  WireFormatError,
} from '../../shared/index.js';
import type { Appendable } from '../storage/index.js';
import { StorageError } from '../storage/index.js';

export interface WritePluginOptions {
  appendable: Appendable;
  /** Largest accepted compressed body, bytes. */
  maxBodyBytes: number;
  /** Largest accepted decompressed body, bytes. */
  maxDecompressedBytes: number;
  registry?: Registry;
  logger?: Logger;
}

export interface IngestMetrics {
  requests: Counter<'code'>;
  samples: Counter;
  rejected: Counter<'reason'>;
  duration: Histogram;
}

export function ingestMetrics(registry?: Registry): IngestMetrics {
  const registers = registry ? [registry] : [];
  return {
    requests: new Counter({ name: 'kubepulse_ingest_requests_total', help: 'Remote-write requests received, by HTTP status code.', labelNames: ['code'], registers }),
    samples: new Counter({ name: 'kubepulse_ingest_samples_total', help: 'Samples accepted by the remote-write receiver.', registers }),
    rejected: new Counter({ name: 'kubepulse_ingest_samples_rejected_total', help: 'Samples refused by the remote-write receiver, by reason.', labelNames: ['reason'], registers }),
    duration: new Histogram({ name: 'kubepulse_ingest_request_duration_seconds', help: 'Time to decode, validate and store one remote-write request.', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers }),
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

  const fail = (reply: FastifyReply, code: number, reason: string, message: string, samples = 0) => {
    m.requests.inc({ code: String(code) });
    if (samples > 0) m.rejected.inc({ reason }, samples);
    log.debug({ code, reason, err: message }, 'Remote-write request refused');
    return reply.code(code).type('text/plain; charset=utf-8').send(message + '\n');
  };

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

      let total = 0;
      for (let i = 0; i < wr.timeseries.length; i++) {
        const ts = wr.timeseries[i];
        total += ts.samples.length;
        // The spec says senders sort labels; some do not, and sorting costs little.
        sortLabels(ts.labels as Label[]);
        const problems = validateLabels(ts.labels);
        if (problems.length) {
          return fail(reply, 400, 'invalid_labels', `series ${i}: ${problems.join('; ')}`, countSamples(wr.timeseries));
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
