/**
 * Interop with the real Prometheus 2.42 and node_exporter (Debian packages):
 * - Prometheus in agent mode scrapes node_exporter and remote-writes both to the
 *   collector and to a Prometheus server (the reference receiver): every series the
 *   collector stores has, at its newest timestamp, exactly the value Prometheus has.
 * - That Prometheus server also scrapes the collector's /metrics (honor_labels): `up` is 1
 *   and a series pushed to the collector is queryable there with its value.
 * - `promtool check metrics` finds no parse error in the collector's /metrics, and no lint
 *   finding that node_exporter's own output does not get too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCollector, type Collector } from '../../collector/main.js';
import { loadCollectorConfig } from '../../collector/config.js';
import { encodeWriteRequestBody, labelsFromObject, noopLogger } from '../../shared/index.js';
import { startNodeExporter, startPrometheus, promtoolCheckMetrics, type PrometheusProc } from '../helpers/prometheus.js';
import { waitFor, type Proc } from '../helpers/procs.js';

interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  t?: number;
}

/** Minimal text-format reader for the assertions (HELP/TYPE skipped). */
function parseExposition(text: string): ParsedSample[] {
  const out: ParsedSample[] = [];
  const re = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (\d+))?$/;
  const lre = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = re.exec(line);
    if (!m) throw new Error(`unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(lre)) labels[lm[1]] = lm[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    const v = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    out.push({ name: m[1], labels, value: v, t: m[4] ? Number(m[4]) : undefined });
  }
  return out;
}

function selector(s: ParsedSample): string {
  const parts = Object.entries(s.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `${s.name}{${parts.join(',')}}`;
}

describe('interop with real Prometheus and node_exporter', () => {
  let dir: string;
  let collector: Collector;
  let exporter: { url: string; proc: Proc };
  let server: PrometheusProc;
  let agent: PrometheusProc;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kp-interop-'));
    const { config } = loadCollectorConfig(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data')], {});
    collector = await startCollector(config, noopLogger());
    exporter = await startNodeExporter();
    const collectorHostPort = new URL(collector.url).host;
    server = await startPrometheus({
      remoteWriteReceiver: true,
      config: `
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: kubepulse-collector
    honor_labels: true
    static_configs: [{ targets: ['${collectorHostPort}'] }]
`,
    });
    agent = await startPrometheus({
      agent: true,
      config: `
global: { scrape_interval: 1s }
scrape_configs:
  - job_name: node
    static_configs: [{ targets: ['${new URL(exporter.url).host}'] }]
remote_write:
  - url: ${collector.url}/api/v1/write
    queue_config: { batch_send_deadline: 500ms, max_samples_per_send: 5000 }
    metadata_config: { send_interval: 1s }
  - url: ${server.url}/api/v1/write
    queue_config: { batch_send_deadline: 500ms, max_samples_per_send: 5000 }
`,
    });
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
    await exporter?.proc.stop();
    await collector?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores what Prometheus scraped from node_exporter, series for series, value for value', async () => {
    // Wait until several scrapes have arrived, with metadata.
    await waitFor('node series in the collector', () => {
      const names = new Set([...collector.storage.latestSamples()].map((s) => s.labels.find((l) => l.name === '__name__')?.value));
      return names.has('node_load1') && names.has('node_cpu_seconds_total') && collector.storage.metadata().has('node_cpu_seconds_total');
    }, 30_000);
    // Pause remote_write's moving target: compare against a snapshot of our store.
    const ours = [...collector.storage.latestSamples()].filter((s) => s.labels.some((l) => l.name === 'job' && l.value === 'node'));
    expect(ours.length).toBeGreaterThan(100);

    // Every series at its newest timestamp has the same value in Prometheus.
    const mismatches: string[] = [];
    let checked = 0;
    await waitFor('Prometheus to hold the same samples', async () => {
      mismatches.length = 0;
      checked = 0;
      for (const s of ours.filter((_, i) => i % 7 === 0)) {
        const labels = Object.fromEntries(s.labels.filter((l) => l.name !== '__name__').map((l) => [l.name, l.value]));
        const name = s.labels.find((l) => l.name === '__name__')!.value;
        const sel = selector({ name, labels, value: 0 });
        const res = await server.query(`${sel}`, s.t / 1000);
        checked++;
        const got = res[0] ? Number(res[0].value[1]) : undefined;
        const same = got === s.v || (Number.isNaN(got) && Number.isNaN(s.v));
        if (!same) mismatches.push(`${sel} @${s.t}: kubepulse ${s.v}, prometheus ${got}`);
      }
      return mismatches.length === 0;
    }, 20_000, 1000).catch(() => undefined);
    expect(mismatches).toEqual([]);
    expect(checked).toBeGreaterThan(15);
    // Metadata arrived with the samples.
    expect(collector.storage.metadata().get('node_cpu_seconds_total')?.type).toBe('counter');
  }, 90_000);

  it('answers PromQL over the pushed node series as Prometheus does over the same samples', async () => {
    // A time both stores certainly hold: the newest scrape we stored.
    const newest = [...collector.storage.latestSamples()].find((x) => x.labels.some((l) => l.name === '__name__' && l.value === 'node_load1'));
    expect(newest).toBeDefined();
    const t = newest!.t / 1000;
    const exprs = [
      'sum by (mode) (node_cpu_seconds_total{job="node"})',
      'node_memory_MemAvailable_bytes{job="node"} / node_memory_MemTotal_bytes{job="node"}',
      'count(up{job="node"} == 1)',
      'max_over_time(node_load1[1m])',
    ];
    type Vec = Array<{ metric: Record<string, string>; value: [number, string] }>;
    const norm = (r: Vec) => r.map((x) => `${JSON.stringify(Object.entries(x.metric).sort())} ${x.value[0]} ${x.value[1]}`).sort();
    for (const expr of exprs) {
      const u = new URL('/api/v1/query', collector.url);
      u.searchParams.set('query', expr);
      u.searchParams.set('time', String(t));
      const ours = (await (await fetch(u)).json()) as { status: string; data: { result: Vec } };
      expect(ours.status, expr).toBe('success');
      expect(ours.data.result.length, expr).toBeGreaterThan(0);
      // Prometheus's remote_write queues to the two receivers run independently: the
      // reference server may get the sample at t a moment later than we did.
      let theirs: Vec = [];
      await waitFor(`Prometheus to hold the samples at ${t} for ${expr}`, async () => {
        theirs = await server.query(expr, t);
        return JSON.stringify(norm(theirs)) === JSON.stringify(norm(ours.data.result));
      }, 10_000, 250).catch(() => undefined);
      expect(norm(ours.data.result), expr).toEqual(norm(theirs));
    }
  }, 30_000);

  it('is scraped by Prometheus with honor_labels: up is 1 and a pushed series is queryable', async () => {
    const t = Date.now();
    const body = encodeWriteRequestBody({
      timeseries: [{ labels: labelsFromObject({ __name__: 'kubepulse_interop_probe', job: 'probe', node: 'n1' }), samples: [{ t, v: 42.5 }] }],
    });
    const r = await fetch(`${collector.url}/api/v1/write`, { method: 'POST', body, headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' } });
    expect(r.status).toBe(204);
    const up = await waitFor('up{job="kubepulse-collector"} == 1', async () => {
      const res = await server.query('up{job="kubepulse-collector"}');
      return res.length === 1 && res[0].value[1] === '1' ? res : undefined;
    }, 30_000, 500);
    expect(up[0].metric.job).toBe('kubepulse-collector');
    const probe = await waitFor('the pushed series in Prometheus', async () => {
      const res = await server.query('kubepulse_interop_probe');
      return res.length === 1 ? res : undefined;
    }, 30_000, 500);
    // honor_labels keeps the pushed job label rather than the scrape job; Prometheus adds
    // the target's instance only because the pushed series has none.
    expect(probe[0].metric).toEqual({ __name__: 'kubepulse_interop_probe', job: 'probe', node: 'n1', instance: new URL(collector.url).host });
    expect(probe[0].value[1]).toBe('42.5');
  }, 60_000);

  it('passes promtool check metrics with no finding beyond node_exporter own', async () => {
    const ours = await (await fetch(`${collector.url}/metrics`)).text();
    expect(ours).toContain('node_cpu_seconds_total{');
    const theirs = await (await fetch(`${exporter.url}/metrics`)).text();
    const [oursCheck, theirsCheck] = await Promise.all([promtoolCheckMetrics(ours), promtoolCheckMetrics(theirs)]);
    expect(oursCheck.problems.join('\n')).not.toMatch(/error while linting|parse error|text format parsing error/i);
    const inherited = new Set(theirsCheck.problems);
    const extra = oursCheck.problems.filter((p) => !inherited.has(p));
    expect(extra).toEqual([]);
    // The samples themselves parse as the text format.
    expect(parseExposition(ours).length).toBeGreaterThan(100);
  }, 30_000);
});
