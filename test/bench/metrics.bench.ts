/**
 * `GET /metrics` of a collector holding 100k series: total time and the longest event
 * loop block while it is served, beside prom-client rendering the same series (what the
 * collector would do if it exposed stored series through prom-client).
 */
import { describe, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, Registry } from 'prom-client';
import { labelsFromObject } from '../../shared/index.js';
import { openTsdb } from '../../collector/tsdb/index.js';
import { buildServer } from '../../collector/web/server.js';
import { metricsPlugin } from '../../collector/web/metrics-plugin.js';
import { REPO_ROOT } from '../helpers/paths.js';

const SERIES = Number(process.env.KUBEPULSE_BENCH_METRICS_SERIES ?? 100_000);
const FAMILIES = 20;

function labelsOf(i: number): Record<string, string> {
  return { namespace: `ns-${i % 40}`, pod: `pod-${Math.floor(i / FAMILIES)}-5d8f7c9b4-abcde`, container: `c${i % 3}`, node: `node-${i % 200}`, job: 'kubelet' };
}

function scrape(url: string): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    get(url, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ ms: performance.now() - t0, bytes }));
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
    const server = await buildServer({ plugins: [{ plugin: metricsPlugin, opts: { head: store, registry: new Registry() } }] });
    await server.listen({ host: '127.0.0.1', port: 0 });
    const addr = server.server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/metrics`;
    await scrape(url);

    const ours: Array<{ ms: number; bytes: number; maxBlockMs: number }> = [];
    for (let i = 0; i < 5; i++) {
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const r = await scrape(url);
      h.disable();
      ours.push({ ...r, maxBlockMs: h.max / 1e6 });
    }
    await server.close();
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
    const text = [
      '# /metrics with many stored series',
      '',
      `Command: \`npx vitest run --config vitest.bench.config.ts test/bench/metrics.bench.ts\` (KUBEPULSE_BENCH_METRICS_SERIES=${SERIES}), ${new Date().toISOString().slice(0, 10)}, median of 5 scrapes over loopback HTTP.`,
      '',
      '| measure | kubepulse (streamed from the TSDB head) | prom-client `registry.metrics()` (same series) | ratio |',
      '|---|---|---|---|',
      `| time to the whole body, ms | ${med(ours, (x) => x.ms).toFixed(0)} | ${med(theirs, (x) => x.ms).toFixed(0)} | ${(med(ours, (x) => x.ms) / med(theirs, (x) => x.ms)).toFixed(2)} |`,
      `| longest event-loop block, ms | ${med(ours, (x) => x.maxBlockMs).toFixed(1)} | ${med(theirs, (x) => x.ms).toFixed(0)} (all of it) | ${(med(ours, (x) => x.maxBlockMs) / med(theirs, (x) => x.ms)).toFixed(3)} |`,
      `| body size, MB | ${(med(ours, (x) => x.bytes) / 1e6).toFixed(1)} | ${(med(theirs, (x) => x.bytes) / 1e6).toFixed(1)} | |`,
      '',
    ].join('\n');
    mkdirSync(join(REPO_ROOT, 'test/bench/results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'test/bench/results/metrics.md'), text);
    console.log(text);
  }, 600_000);
});
