/**
 * `GET /metrics`: the newest sample of every stored series, with its original timestamp,
 * followed by the collector's own metrics (prom-client). Stored series are streamed
 * family by family, yielding to the event loop between chunks, so a large store never
 * blocks ingest while Prometheus scrapes.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { ExposedSample, FamilyMeta, Labels } from '../../shared/index.js';
import { formatFamily, getLabel, TEXT_CONTENT_TYPE } from '../../shared/index.js';
import type { HeadReader } from '../storage/index.js';

export interface MetricsPluginOptions {
  head: HeadReader;
  registry: Registry;
}

/** Bytes of text produced before yielding to the event loop. */
const CHUNK_BYTES = 64 * 1024;

const FALLBACK_HELP = 'Series stored by kubepulse; the sender gave no metadata.';

export async function* exposition(head: HeadReader, registry: Registry): AsyncGenerator<string> {
  const own = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
  const byName = new Map<string, ExposedSample[]>();
  let n = 0;
  for (const s of head.latestSamples()) {
    const name = getLabel(s.labels as Labels, '__name__');
    if (own.has(name)) continue; // our own families come from the registry below
    let fam = byName.get(name);
    if (!fam) byName.set(name, (fam = []));
    fam.push(s);
    if (++n % 20_000 === 0) await new Promise<void>((r) => setImmediate(r));
  }
  const meta = head.metadata();
  let buf = '';
  for (const name of [...byName.keys()].sort()) {
    const md = meta.get(name);
    const fm: FamilyMeta = { name, help: md?.help || FALLBACK_HELP, type: md ? md.type : 'untyped' };
    // A family's TYPE line must name the series it covers; histogram/summary parts
    // (`_bucket`, `_sum`, `_count`) stored under their own names are untyped here.
    const type = fm.type === 'histogram' || fm.type === 'summary' || fm.type === 'gaugehistogram' || fm.type === 'stateset' || fm.type === 'info' ? 'untyped' : fm.type;
    buf += formatFamily({ ...fm, type }, byName.get(name) ?? []);
    if (buf.length >= CHUNK_BYTES) {
      yield buf;
      buf = '';
      await new Promise<void>((r) => setImmediate(r));
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
