/**
 * PromQL latency side by side with a real Prometheus 2.42 on the same samples: every
 * kubernetes-mixin rule expression as an instant query, a 1 h range query (15 s step) and
 * a 24 h range query (2 m step), each through the HTTP API of both (ours: the query API
 * plugin on a loopback fastify server over the in-memory SampleStore; theirs: the
 * Prometheus TSDB filled by remote_write). Reports the median latency per query class and
 * the ratio ours/Prometheus. Writes test/bench/results/promql.md.
 *
 * Run: npx vitest run --config vitest.bench.config.ts test/bench/promql.bench.ts
 * Scale: KUBEPULSE_BENCH_PROMQL_NODES (10), _PODS_PER_NODE (5), _HOURS (25),
 * _INTERVAL_S (60), _RUNS (3).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { expect, it } from 'vitest';
import { Engine } from '../../collector/promql/index.js';
import { queryApiPlugin } from '../../collector/web/api-v1/index.js';
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
  const app = Fastify();
  try {
    const t0 = performance.now();
    await pushToPrometheus(prom.url, series, 30 * 60_000);
    const pushMs = performance.now() - t0;
    const store = new SampleStore();
    for (const s of series) for (const p of s.samples) store.add(s.labels, p.t, p.v);
    series.length = 0;
    await app.register(queryApiPlugin, {
      engine: new Engine(),
      queryable: store,
      buildInfo: { version: 'bench', revision: '', branch: '', buildUser: '', buildDate: '', goVersion: '' },
    });
    const ours = await app.listen({ host: '127.0.0.1', port: 0 });

    const rows: string[] = [];
    const perClass: Array<{ cls: string; oursMed: number; promMed: number; ratioMed: number; ratioP90: number; n: number; slow: string[] }> = [];
    for (const cls of CLASSES) {
      const ratios: number[] = [];
      const oursAll: number[] = [];
      const promAll: number[] = [];
      const slow: Array<{ name: string; o: number; p: number }> = [];
      for (const r of rules) {
        const qs = new URLSearchParams({ query: r.expr, ...cls.params });
        const o: number[] = [];
        const p: number[] = [];
        // One warm-up each, then alternate so both see the same machine load.
        await timed(`${ours}${cls.path}?${qs}`);
        await timed(`${prom.url}${cls.path}?${qs}`);
        for (let i = 0; i < RUNS; i++) {
          o.push((await timed(`${ours}${cls.path}?${qs}`)).ms);
          p.push((await timed(`${prom.url}${cls.path}?${qs}`)).ms);
        }
        const om = median(o);
        const pm = median(p);
        oursAll.push(om);
        promAll.push(pm);
        ratios.push(om / pm);
        slow.push({ name: r.name, o: om, p: pm });
      }
      slow.sort((a, b) => b.o / b.p - a.o / a.p);
      perClass.push({
        cls: cls.name,
        oursMed: median(oursAll),
        promMed: median(promAll),
        ratioMed: median(ratios),
        ratioP90: pct(ratios, 0.9),
        n: ratios.length,
        slow: slow.slice(0, 3).map((s) => `${s.name} (${s.o.toFixed(1)} ms vs ${s.p.toFixed(1)} ms)`),
      });
    }
    for (const c of perClass) {
      rows.push(
        `| ${c.cls} | ${c.n} | ${c.oursMed.toFixed(2)} | ${c.promMed.toFixed(2)} | ${(c.oursMed / c.promMed).toFixed(2)} | ${c.ratioMed.toFixed(2)} | ${c.ratioP90.toFixed(2)} | ${c.slow.join('; ')} |`,
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
        `Pushed to Prometheus by remote_write in ${(pushMs / 1000).toFixed(1)} s.`,
      '',
      `Queries: the ${rules.length} rule expressions of prometheus_alerts.yaml and prometheus_rules.yaml, each class run ${RUNS}× after one warm-up, ` +
        'alternating ours/Prometheus, over loopback HTTP. Ours: query API plugin + Engine over the in-memory SampleStore (engine cost; the SQLite TSDB read path is not included). ' +
        'Ratio < 1 means kubepulse is faster.',
      '',
      '| class | queries | ours median ms | Prometheus median ms | ratio of medians | median per-query ratio | p90 per-query ratio | largest ratios |',
      '|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
    ].join('\n');
    mkdirSync(join(REPO_ROOT, 'test', 'bench', 'results'), { recursive: true });
    writeFileSync(join(REPO_ROOT, 'test', 'bench', 'results', 'promql.md'), report);
    console.log(report);
    expect(perClass.every((c) => c.n === rules.length)).toBe(true);
  } finally {
    await app.close();
    await prom.stop();
  }
}, 30 * 60_000);
