/**
 * Differential test against a real Prometheus 2.42 (Debian package): the same samples go
 * to Prometheus (remote_write) and to our store; every kubernetes-mixin rule expression
 * and a generated corpus over every function and operator run through both HTTP APIs,
 * as instant queries at two times and as two range queries (one with an unaligned start
 * and a step longer than the lookback delta). Labels must match exactly,
 * values within 1e-9 relative, errors in type.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../collector/promql/index.js';
import { queryApiPlugin } from '../../collector/web/api-v1/index.js';
import { startPrometheus, type PrometheusProc } from '../helpers/prometheus.js';
import { SampleStore } from './sample-store.js';
import { buildDataset, mixinRuleExprs } from './synthetic-data.js';
import type { ApiBody } from './differential.js';
import { GENERATED_QUERIES, compareAnswers, pushToPrometheus } from './differential.js';

const END = Date.UTC(2025, 0, 1, 12, 0, 0);
const START = END - 75 * 60_000;

interface Probe {
  readonly path: '/api/v1/query' | '/api/v1/query_range';
  readonly params: Record<string, string>;
  readonly label: string;
}

const PROBES: readonly Probe[] = [
  { path: '/api/v1/query', params: { time: String(END / 1000) }, label: 'instant@end' },
  { path: '/api/v1/query', params: { time: String((END - 437_500) / 1000) }, label: 'instant@end-7m17.5s' },
  { path: '/api/v1/query_range', params: { start: String((END - 3_600_000) / 1000), end: String(END / 1000), step: '60' }, label: 'range 1h/60s' },
  // Unaligned start and a step longer than the lookback delta.
  { path: '/api/v1/query_range', params: { start: String((END - 3_000_000 + 7_250) / 1000), end: String((END + 120_000) / 1000), step: '420' }, label: 'range 50m/7m unaligned' },
];

describe('differential: our engine vs Prometheus 2.42', () => {
  let prom: PrometheusProc;
  let app: FastifyInstance;
  const rules = mixinRuleExprs();

  beforeAll(async () => {
    prom = await startPrometheus({ config: 'global:\n  scrape_interval: 15s\n', remoteWriteReceiver: true });
    const series = buildDataset(
      rules.map((r) => r.expr),
      { nodes: 3, podsPerNode: 3, start: START, end: END, intervalMs: 30_000 },
    );
    await pushToPrometheus(prom.url, series);
    const store = new SampleStore();
    for (const s of series) for (const p of s.samples) store.add(s.labels, p.t, p.v);
    app = Fastify();
    await app.register(queryApiPlugin, {
      engine: new Engine(),
      queryable: store,
      buildInfo: { version: 'test', revision: '', branch: '', buildUser: '', buildDate: '', goVersion: '' },
    });
    await app.ready();
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await prom?.stop();
  });

  async function both(q: string, probe: Probe): Promise<[ApiBody, ApiBody]> {
    const params = new URLSearchParams({ query: q, ...probe.params });
    const theirs = (await (await fetch(`${prom.url}${probe.path}?${params}`)).json()) as ApiBody;
    const ours = (await app.inject({ method: 'GET', url: `${probe.path}?${params}` })).json() as ApiBody;
    return [ours, theirs];
  }

  async function run(queries: ReadonlyArray<{ name: string; expr: string }>): Promise<{ diffs: string[]; nonEmpty: number; compared: number }> {
    const diffs: string[] = [];
    let nonEmpty = 0;
    let compared = 0;
    for (const { name, expr } of queries) {
      for (const probe of PROBES) {
        const [ours, theirs] = await both(expr, probe);
        compared++;
        const r = theirs.data?.result;
        if (Array.isArray(r) ? r.length > 0 : theirs.status === 'success') nonEmpty++;
        const d = compareAnswers(ours, theirs);
        if (d) diffs.push(`${name} [${probe.label}] ${expr.replace(/\s+/g, ' ')}\n    ${d}`);
      }
    }
    return { diffs, nonEmpty, compared };
  }

  it('answers every kubernetes-mixin rule expression as Prometheus does', async () => {
    const { diffs, nonEmpty, compared } = await run(rules.map((r) => ({ name: r.name, expr: r.expr })));
    console.log(`mixin: ${compared - diffs.length}/${compared} answers match, ${nonEmpty} non-empty on Prometheus`);
    expect(diffs, diffs.join('\n')).toEqual([]);
    // The data set must exercise the rules, not just agree on empty answers.
    expect(nonEmpty).toBeGreaterThan(compared / 3);
  }, 60_000);

  it('answers the generated function/operator corpus as Prometheus does', async () => {
    const { diffs, nonEmpty, compared } = await run(GENERATED_QUERIES.map((q) => ({ name: 'gen', expr: q })));
    console.log(`generated: ${compared - diffs.length}/${compared} answers match, ${nonEmpty} non-empty on Prometheus`);
    expect(diffs, diffs.join('\n')).toEqual([]);
    expect(nonEmpty).toBeGreaterThan(compared / 2);
  }, 60_000);
});
