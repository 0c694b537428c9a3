/**
 * `GET /metrics` of a collector holding 100k series: total time and the longest event
 * loop block while it is served, identity and gzip (Prometheus asks for gzip), beside the
 * renderer this one replaced (line-by-line strings, run back to back in the same process)
 * and prom-client rendering the same series (what the collector would do if it exposed
 * stored series through prom-client). Also the heap the per-series prefix cache costs.
 */
import { describe, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyPluginAsync } from 'fastify';
import { Gauge, Registry } from 'prom-client';
import type { ExposedSample, Labels } from '../../shared/index.js';
import { formatFamily, formatSampleLine, getLabel, labelsFromObject, TEXT_CONTENT_TYPE } from '../../shared/index.js';
import type { HeadReader } from '../../collector/storage/index.js';
import { openTsdb } from '../../collector/tsdb/index.js';
import { buildServer, type PluginRegistration } from '../../collector/web/server.js';
import { metricsPlugin } from '../../collector/web/metrics-plugin.js';
import { FALLBACK_HELP } from '../../collector/web/exposition-writer.js';
import { REPO_ROOT } from '../helpers/paths.js';

const SERIES = Number(process.env.KUBEPULSE_BENCH_METRICS_SERIES ?? 100_000);
const FAMILIES = 20;
const ROUNDS = 5;

function labelsOf(i: number): Record<string, string> {
  return { namespace: `ns-${i % 40}`, pod: `pod-${Math.floor(i / FAMILIES)}-5d8f7c9b4-abcde`, container: `c${i % 3}`, node: `node-${i % 200}`, job: 'kubelet' };
}

/** The previous /metrics renderer, verbatim in substance: the "before" column. */
async function* previousExposition(head: HeadReader, registry: Registry): AsyncGenerator<string> {
  const own = new Set(registry.getMetricsAsArray().map((m) => m.name));
  const byName = new Map<string, ExposedSample[]>();
  let n = 0;
  for (const s of head.latestSamples()) {
    const name = getLabel(s.labels as Labels, '__name__');
    if (own.has(name)) continue;
    let fam = byName.get(name);
    if (!fam) byName.set(name, (fam = []));
    fam.push(s);
    if (++n % 20_000 === 0) await new Promise<void>((r) => setImmediate(r));
  }
  const meta = head.metadata();
  let buf = '';
  for (const name of [...byName.keys()].sort()) {
    const md = meta.get(name);
    const type = md && (md.type === 'counter' || md.type === 'gauge') ? md.type : 'untyped';
    buf += formatFamily({ name, help: md?.help || FALLBACK_HELP, type }, []);
    for (const sample of byName.get(name) ?? []) {
      buf += formatSampleLine(sample) + '\n';
      if (buf.length >= 64 * 1024) {
        yield buf;
        buf = '';
        await new Promise<void>((r) => setImmediate(r));
      }
    }
  }
  buf += await registry.metrics();
  yield buf;
}

const previousPlugin: FastifyPluginAsync<{ head: HeadReader; registry: Registry }> = async (app, opts) => {
  app.get('/metrics', async (_req, reply) => {
    reply.type(TEXT_CONTENT_TYPE);
    return reply.send(Readable.from(previousExposition(opts.head, opts.registry), { objectMode: false }));
  });
};

interface Scrape {
  ms: number;
  bytes: number;
  maxBlockMs: number;
}

function scrape(url: string, gzip: boolean): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const t0 = performance.now();
    get(url, { headers: gzip ? { 'accept-encoding': 'gzip' } : {} }, (res) => {
      if (gzip !== (res.headers['content-encoding'] === 'gzip')) reject(new Error(`content-encoding ${res.headers['content-encoding']} for gzip=${gzip}`));
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => {
        const ms = performance.now() - t0;
        h.disable();
        resolve({ ms, bytes, maxBlockMs: h.max / 1e6 });
      });
    }).on('error', reject);
  });
}

describe('/metrics with many stored series', () => {
  it('measures time and event-loop blocking against prom-client', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kp-metrics-bench-'));
    const store = openTsdb({ dataDir: dir });
    const t = Date.now();
    for (let start = 0; start < SERIES; start += 10_000) {
      const app = store.appender();
      for (let i = start; i < Math.min(SERIES, start + 10_000); i++) {
        app.append(labelsFromObject({ __name__: `container_bench_${i % FAMILIES}_bytes`, ...labelsOf(i) }), t, i * 1.5);
      }
      app.commit();
    }
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const serve = async (plugin: PluginRegistration['plugin'], opts: object) => {
      const server = await buildServer({ plugins: [{ plugin, opts }] });
      await server.listen({ host: '127.0.0.1', port: 0 });
      const addr = server.server.address();
      return { server, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/metrics` };
    };
    const variants = [
      { key: 'before', gzip: false, ...(await serve(previousPlugin, { head: store, registry: new Registry() })) },
      { key: 'identity', gzip: false, ...(await serve(metricsPlugin, { head: store, registry: new Registry() })) },
      { key: 'gzip', gzip: true, ...(await serve(metricsPlugin, { head: store, registry: new Registry() })) },
      { key: 'nocache', gzip: false, ...(await serve(metricsPlugin, { head: store, registry: new Registry(), renderer: { prefixCacheMaxSeries: 0 } })) },
    ];
    // Heap the prefix cache keeps: one cold scrape of a fresh plugin instance, GC either side.
    const probe = await serve(metricsPlugin, { head: store, registry: new Registry() });
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    const cold = await scrape(probe.url, false);
    gc();
    const cacheBytesPerSeries = (process.memoryUsage().heapUsed - heap0) / SERIES;
    await probe.server.close();
    for (const v of variants) await scrape(v.url, v.gzip); // warm-up (and cache fill)
    // Every variant must give the previous renderer's bytes (fetch un-gzips).
    const bodies = await Promise.all(variants.map(async (v) => Buffer.from(await (await fetch(v.url, { headers: { 'accept-encoding': v.gzip ? 'gzip' : 'identity' } })).arrayBuffer())));
    for (let i = 1; i < bodies.length; i++) if (!bodies[i].equals(bodies[0])) throw new Error(`${variants[i].key} body differs from the previous renderer's`);
    const res = new Map<string, Scrape[]>(variants.map((v) => [v.key, []]));
    // Interleaved rounds, so that load from other users of the machine hits every variant alike.
    for (let i = 0; i < ROUNDS; i++) for (const v of variants) res.get(v.key)?.push(await scrape(v.url, v.gzip));
    for (const v of variants) await v.server.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });

    const reg = new Registry();
    const gauges = new Map<string, Gauge>();
    for (let i = 0; i < SERIES; i++) {
      const name = `container_bench_${i % FAMILIES}_bytes`;
      let g = gauges.get(name);
      if (!g) gauges.set(name, (g = new Gauge({ name, help: 'bench', labelNames: ['namespace', 'pod', 'container', 'node', 'job'], registers: [reg] })));
      g.set(labelsOf(i), i * 1.5);
    }
    const theirs: Array<{ ms: number; bytes: number }> = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const text = await reg.metrics(); // synchronous work behind a promise: the loop is blocked throughout
      theirs.push({ ms: performance.now() - t0, bytes: text.length });
    }
    const med = <T>(a: T[], k: (x: T) => number) => a.map(k).sort((x, y) => x - y)[Math.floor(a.length / 2)];
    const m = (key: string, k: (x: Scrape) => number) => med(res.get(key) ?? [], k);
    const worst = (key: string) => Math.max(...(res.get(key) ?? []).map((x) => x.maxBlockMs));
    const prom = med(theirs, (x) => x.ms);
    const row = (label: string, key: string, note = '') =>
      `| ${label} | ${m(key, (x) => x.ms).toFixed(0)} | ${m(key, (x) => x.maxBlockMs).toFixed(1)} (worst ${worst(key).toFixed(1)}) | ${(m(key, (x) => x.bytes) / 1e6).toFixed(2)} | ${(m(key, (x) => x.ms) / m('before', (x) => x.ms)).toFixed(2)} | ${(m(key, (x) => x.ms) / prom).toFixed(2)} |${note}`;
    const text = [
      '# /metrics with many stored series',
      '',
      `Command: \`npx vitest run --config vitest.bench.config.ts test/bench/metrics.bench.ts\` (KUBEPULSE_BENCH_METRICS_SERIES=${SERIES}), ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, 2 shared cores.`,
      `Median of ${ROUNDS} scrapes over loopback HTTP per row (rows interleaved round by round, after one warm-up scrape each); the client runs in the same process, so its reads count in the time.`,
      '',
      '| /metrics variant | time to the whole body, ms | longest event-loop block, ms | body, MB | vs before | vs prom-client |',
      '|---|---|---|---|---|---|',
      row('before: line-by-line strings (previous renderer), identity', 'before'),
      row('**now, identity** (prefix cache on, the default)', 'identity'),
      row('**now, gzip level 1** (what Prometheus asks for)', 'gzip'),
      row('now, identity, prefix cache off', 'nocache'),
      `| prom-client \`registry.metrics()\` (same series) | ${prom.toFixed(0)} | ${prom.toFixed(0)} (all of it) | ${(med(theirs, (x) => x.bytes) / 1e6).toFixed(2)} | | 1.00 |`,
      '',
      `First scrape of a fresh plugin (prefix cache cold): ${cold.ms.toFixed(0)} ms. Heap kept by the prefix cache after it: ${cacheBytesPerSeries.toFixed(0)} bytes per series (${((cacheBytesPerSeries * SERIES) / 1e6).toFixed(1)} MB for ${SERIES} series; bounded by \`prefixCacheMaxSeries\`, default 200,000).`,
      '',
    ].join('\n');
    mkdirSync(join(REPO_ROOT, 'test/bench/results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'test/bench/results/metrics.md'), text);
    console.log(text);
  }, 600_000);
});
