/**
 * PromQL latency side by side with a real Prometheus 2.42 on the same samples: every
 * kubernetes-mixin rule expression as an instant query, a 1 h range query (15 s step) and
 * a 24 h range query (2 m step), each through the HTTP API. Ours runs twice: the query
 * API plugin on a loopback fastify server over the in-memory SampleStore (engine cost
 * alone) and over the SQLite TSDB (what the collector serves); theirs is the Prometheus
 * TSDB filled by remote_write. Reports the median latency per query class and the ratios
 * ours/Prometheus. Writes test/bench/results/promql.md.
 *
 * Run: npx vitest run --config vitest.bench.config.ts test/bench/promql.bench.ts
 * Scale: KUBEPULSE_BENCH_PROMQL_NODES (10), _PODS_PER_NODE (5), _HOURS (25),
 * _INTERVAL_S (60), _RUNS (3).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { expect, it } from 'vitest';
import { Engine } from '../../collector/promql/index.js';
import { queryApiPlugin } from '../../collector/web/api-v1/index.js';
import { openTsdb } from '../../collector/tsdb/index.js';
import type { Queryable } from '../../collector/storage/index.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { startPrometheus } from '../helpers/prometheus.js';
import { SampleStore } from '../promql/sample-store.js';
import { buildDataset, mixinRuleExprs } from '../promql/synthetic-data.js';
import { pushToPrometheus } from '../promql/differential.js';

const env = (k: string, d: number) => Number(process.env[`KUBEPULSE_BENCH_PROMQL_${k}`] ?? d);
const NODES = env('NODES', 10);
const PODS = env('PODS_PER_NODE', 5);
const HOURS = env('HOURS', 25);
const INTERVAL = env('INTERVAL_S', 60) * 1000;
const RUNS = env('RUNS', 3);

const END = Date.UTC(2025, 0, 1, 12, 0, 0);

interface QueryClass {
  name: string;
  path: string;
  params: Record<string, string>;
}

const CLASSES: QueryClass[] = [
  { name: 'instant', path: '/api/v1/query', params: { time: String(END / 1000) } },
  { name: 'range 1h / 15s', path: '/api/v1/query_range', params: { start: String((END - 3_600_000) / 1000), end: String(END / 1000), step: '15' } },
  { name: 'range 24h / 2m', path: '/api/v1/query_range', params: { start: String((END - 86_400_000) / 1000), end: String(END / 1000), step: '120' } },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

async function serve(queryable: Queryable): Promise<{ url: string; close: () => Promise<void> }> {
  const app = Fastify();
  await app.register(queryApiPlugin, {
    engine: new Engine(),
    queryable,
    buildInfo: { version: 'bench', revision: '', branch: '', buildUser: '', buildDate: '', goVersion: '' },
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, close: () => app.close() };
}

async function timed(url: string): Promise<{ ms: number; ok: boolean }> {
  const t0 = performance.now();
  const res = await fetch(url);
  const body = (await res.json()) as { status: string };
  return { ms: performance.now() - t0, ok: body.status === 'success' };
}

it('PromQL latency vs Prometheus 2.42 (kubernetes-mixin rules)', async () => {
  const rules = mixinRuleExprs();
  const start = END - HOURS * 3_600_000;
  const series = buildDataset(
    rules.map((r) => r.expr),
    { nodes: NODES, podsPerNode: PODS, start, end: END, intervalMs: INTERVAL },
  );
  const samples = series.reduce((n, s) => n + s.samples.length, 0);
  const seriesCount = series.length;
  const prom = await startPrometheus({ config: 'global:\n  scrape_interval: 15s\n', remoteWriteReceiver: true });
  const dir = mkdtempSync(join(tmpdir(), 'kp-promql-bench-'));
  const tsdb = openTsdb({ dataDir: dir, now: () => END, maintenanceIntervalMs: 0, retentionMs: 400 * 86_400_000, outOfOrderWindowMs: 3_600_000 });
  const servers: Array<{ url: string; close: () => Promise<void> }> = [];
  try {
    const t0 = performance.now();
    await pushToPrometheus(prom.url, series, 30 * 60_000);
    const pushMs = performance.now() - t0;
    const store = new SampleStore();
    for (const s of series) for (const p of s.samples) store.add(s.labels, p.t, p.v);
    const t1 = performance.now();
    // Time-ordered commits, as an agent would push them.
    const slice = 30 * 60_000;
    for (let from = start; from <= END; from += slice) {
      const app = tsdb.appender();
      for (const s of series) for (const p of s.samples) if (p.t >= from && p.t < from + slice) app.append(s.labels, p.t, p.v);
      app.commit();
    }
    const tsdbMs = performance.now() - t1;
    series.length = 0;
    const mem = await serve(store);
    servers.push(mem);
    const disk = await serve(tsdb);
    servers.push(disk);

    const rows: string[] = [];
    for (const cls of CLASSES) {
      const med = { mem: [] as number[], disk: [] as number[], prom: [] as number[] };
      const ratios = { mem: [] as number[], disk: [] as number[] };
      const worst: Array<{ name: string; o: number; p: number }> = [];
      for (const r of rules) {
        const qs = new URLSearchParams({ query: r.expr, ...cls.params });
        const runs = { mem: [] as number[], disk: [] as number[], prom: [] as number[] };
        const urls = { mem: `${mem.url}${cls.path}?${qs}`, disk: `${disk.url}${cls.path}?${qs}`, prom: `${prom.url}${cls.path}?${qs}` };
        // One warm-up each, then round-robin so all three see the same machine load.
        for (const u of Object.values(urls)) await timed(u);
        for (let i = 0; i < RUNS; i++) {
          for (const k of ['mem', 'disk', 'prom'] as const) runs[k].push((await timed(urls[k])).ms);
        }
        const m = { mem: median(runs.mem), disk: median(runs.disk), prom: median(runs.prom) };
        for (const k of ['mem', 'disk', 'prom'] as const) med[k].push(m[k]);
        ratios.mem.push(m.mem / m.prom);
        ratios.disk.push(m.disk / m.prom);
        worst.push({ name: r.name, o: m.disk, p: m.prom });
      }
      worst.sort((a, b) => b.o / b.p - a.o / a.p);
      const f = (x: number) => x.toFixed(2);
      rows.push(
        `| ${cls.name} | ${rules.length} | ${f(median(med.prom))} | ${f(median(med.mem))} | ${f(median(ratios.mem))} | ${f(pct(ratios.mem, 0.9))} | ` +
          `${f(median(med.disk))} | ${f(median(ratios.disk))} | ${f(pct(ratios.disk, 0.9))} | ` +
          `${worst.slice(0, 3).map((w) => `${w.name} (${w.o.toFixed(1)} vs ${w.p.toFixed(1)} ms)`).join('; ')} |`,
      );
    }
    const report = [
      '# PromQL benchmark: kubepulse engine vs Prometheus 2.42',
      '',
      `Date: ${new Date().toISOString()}`,
      '',
      'Command: `npx vitest run --config vitest.bench.config.ts test/bench/promql.bench.ts`',
      '',
      `Data: synthetic series for every metric the kubernetes-mixin rules select (test/promql/synthetic-data.ts), ${NODES} nodes × ${PODS} pods, ` +
        `${seriesCount} series, ${samples.toLocaleString('en-US')} samples, ${HOURS} h at ${INTERVAL / 1000} s. ` +
        `Pushed to Prometheus by remote_write in ${(pushMs / 1000).toFixed(1)} s; appended to our SQLite TSDB in ${(tsdbMs / 1000).toFixed(1)} s.`,
      '',
      `Queries: the ${rules.length} rule expressions of prometheus_alerts.yaml and prometheus_rules.yaml, each class run ${RUNS}× after one warm-up, ` +
        'round-robin over loopback HTTP. "memory": query API plugin + Engine over the in-memory SampleStore (the engine alone); ' +
        '"TSDB": the same over the SQLite TSDB (collector/tsdb, what the collector serves). Ratios are per query, ours/Prometheus; < 1 means kubepulse is faster.',
      '',
      '| class | queries | Prometheus median ms | memory median ms | memory median ratio | memory p90 ratio | TSDB median ms | TSDB median ratio | TSDB p90 ratio | largest TSDB ratios |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
    ].join('\n');
    mkdirSync(join(REPO_ROOT, 'test', 'bench', 'results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'test', 'bench', 'results', 'promql.md'), report);
    console.log(report);
    expect(rows).toHaveLength(CLASSES.length);
  } finally {
    for (const sv of servers) await sv.close();
    tsdb.close();
    rmSync(dir, { recursive: true, force: true });
    await prom.stop();
  }
}, 30 * 60_000);
