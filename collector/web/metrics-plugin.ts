/**
 * `GET /metrics`: the newest sample of every stored series, with its original timestamp,
 * followed by the collector's own metrics (prom-client). Stored series are streamed
 * family by family, yielding to the event loop between chunks, so a large store never
 * blocks ingest while Prometheus scrapes.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { ExposedSample, Labels } from '../../shared/index.js';
import { formatFamily, formatSampleLine, getLabel, TEXT_CONTENT_TYPE } from '../../shared/index.js';
import type { HeadReader } from '../storage/index.js';

export interface MetricsPluginOptions {
  head: HeadReader;
  registry: Registry;
}

/** Bytes of text produced before yielding to the event loop. */
const CHUNK_BYTES = 64 * 1024;

const FALLBACK_HELP = 'Series stored by kubepulse; the sender gave no metadata.';

/** Resolves on the next turn of the event loop, letting I/O and timers run. */
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

export async function* exposition(head: HeadReader, registry: Registry): AsyncGenerator<string> {
  // Names only: collecting every value here would run the registry's collect twice per scrape.
  const own = new Set(registry.getMetricsAsArray().map((m) => m.name));
  const byName = new Map<string, ExposedSample[]>();
  let n = 0;
  for (const s of head.latestSamples()) {
    const name = getLabel(s.labels as Labels, '__name__');
    if (own.has(name)) continue; // our own families come from the registry below
    let fam = byName.get(name);
    if (!fam) byName.set(name, (fam = []));
    fam.push(s);
    if (++n % 20_000 === 0) await yieldToLoop();
  }
  const meta = head.metadata();
  let buf = '';
  for (const name of [...byName.keys()].sort()) {
    const md = meta.get(name);
    // A family's TYPE line must name the series it covers; histogram/summary parts
    // (`_bucket`, `_sum`, `_count`) stored under their own names are untyped here.
    const type = md && (md.type === 'counter' || md.type === 'gauge') ? md.type : 'untyped';
    buf += formatFamily({ name, help: md?.help || FALLBACK_HELP, type }, []);
    // Line by line, so one family of 100k series does not hold the loop either.
    for (const sample of byName.get(name) ?? []) {
      buf += formatSampleLine(sample) + '\n';
      if (buf.length >= CHUNK_BYTES) {
        yield buf;
        buf = '';
        await yieldToLoop();
      }
    }
  }
  buf += await registry.metrics();
  yield buf;
}

export const metricsPlugin: FastifyPluginAsync<MetricsPluginOptions> = async (app, opts) => {
  app.get('/metrics', async (_req, reply) => {
    reply.type(TEXT_CONTENT_TYPE);
    return reply.send(Readable.from(exposition(opts.head, opts.registry), { objectMode: false }));
  });
};
