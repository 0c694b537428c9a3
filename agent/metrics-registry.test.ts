/**
 * The agent's self-metrics registry: what a scrape returns is valid text format
 * (real `promtool check metrics`), reads back as the values recorded, carries the
 * process metrics under prom-client's names with this process's real figures, and bad
 * use is refused naming the metric.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry, createAgentRegistry } from './metrics-registry.js';
import { promtoolCheckMetrics } from '../test/helpers/prometheus.js';

/** `name{labels}` → value, from the text format. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of text.split('\n')) {
    if (!l || l.startsWith('#')) continue;
    const i = l.lastIndexOf(' ');
    out.set(l.slice(0, i), Number(l.slice(i + 1)));
  }
  return out;
}

describe('agent metrics registry', () => {
  it('exposes counters, gauges and histograms that promtool accepts and that read back as recorded', async () => {
    const r = new Registry();
    const c = new Counter({ name: 'kp_test_events_total', help: 'Events, by "kind"\\ and line\nbreak.', labelNames: ['kind'], registers: [r] });
    const g = new Gauge({ name: 'kp_test_queue_length', help: 'Queue length.', registers: [r] });
    const h = new Histogram({ name: 'kp_test_duration_seconds', help: 'Durations.', labelNames: ['source'], buckets: [0.1, 1], registers: [r] });
    c.inc({ kind: 'a' });
    c.inc({ kind: 'a' }, 2);
    c.inc({ kind: 'we"ird\\\n' }, 0);
    g.set(7);
    g.dec(2);
    h.observe({ source: 'node' }, 0.05);
    h.observe({ source: 'node' }, 0.5);
    h.observe({ source: 'node' }, 3);
    const text = await r.metrics();
    expect(await promtoolCheckMetrics(text)).toEqual({ code: 0, problems: [] });
    const v = parse(text);
    expect(v.get('kp_test_events_total{kind="a"}')).toBe(3);
    expect(v.get('kp_test_events_total{kind="we\\"ird\\\\\\n"}')).toBe(0);
    expect(v.get('kp_test_queue_length')).toBe(5);
    expect(v.get('kp_test_duration_seconds_bucket{source="node",le="0.1"}')).toBe(1);
    expect(v.get('kp_test_duration_seconds_bucket{source="node",le="1"}')).toBe(2);
    expect(v.get('kp_test_duration_seconds_bucket{source="node",le="+Inf"}')).toBe(3);
    expect(v.get('kp_test_duration_seconds_sum{source="node"}')).toBeCloseTo(3.55, 10);
    expect(v.get('kp_test_duration_seconds_count{source="node"}')).toBe(3);
    expect(text).toContain('# HELP kp_test_events_total Events, by "kind"\\\\ and line\\nbreak.\n');
    expect(r.getSingleMetricAsString('kp_test_queue_length')).toBe('# HELP kp_test_queue_length Queue length.\n# TYPE kp_test_queue_length gauge\nkp_test_queue_length 5\n');
    c.reset();
    expect(parse(await r.metrics()).has('kp_test_events_total{kind="a"}')).toBe(false);
  });

  it('serves the process metrics under prom-client\'s names, with this process\'s figures', async () => {
    const r = createAgentRegistry();
    new Counter({ name: 'kubepulse_agent_samples_sent_total', help: 'Samples.', registers: [r] }).inc(4);
    const text = await r.metrics();
    expect(await promtoolCheckMetrics(text)).toEqual({ code: 0, problems: [] });
    const v = parse(text);
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
    expect(v.get('process_resident_memory_bytes')! / rss).toBeGreaterThan(0.8);
    expect(v.get('process_resident_memory_bytes')! / rss).toBeLessThan(1.25);
    const cpu = process.cpuUsage();
    expect(v.get('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(v.get('process_cpu_seconds_total')).toBeLessThanOrEqual((cpu.user + cpu.system) / 1e6);
    expect(Math.abs(v.get('process_start_time_seconds')! - (Date.now() - process.uptime() * 1000) / 1000)).toBeLessThan(2);
    expect(v.get('process_open_fds')).toBeGreaterThan(2);
    expect(v.get('process_max_fds')).toBeGreaterThan(v.get('process_open_fds')!);
    expect(v.get('nodejs_heap_size_used_bytes')).toBeGreaterThan(1e6);
    expect(v.get('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(text).toContain(`nodejs_version_info{version="${process.version}",`);
    expect(v.get('kubepulse_agent_samples_sent_total')).toBe(4);
  });

  it('refuses bad use, naming the metric', () => {
    const r = new Registry();
    new Gauge({ name: 'kp_dup', help: 'x', registers: [r] });
    expect(() => new Gauge({ name: 'kp_dup', help: 'x', registers: [r] })).toThrow(/kp_dup is already registered/);
    expect(() => new Gauge({ name: 'bad-name', help: 'x' })).toThrow(/invalid metric name: bad-name/);
    const c = new Counter({ name: 'kp_c_total', help: 'x', labelNames: ['reason'] });
    expect(() => c.inc()).toThrow(/kp_c_total: label "reason" is missing/);
    expect(() => c.inc({ reason: 'a', other: 'b' })).toThrow(/kp_c_total: unknown label "other"/);
    expect(() => c.inc({ reason: 'a' }, -1)).toThrow(/kp_c_total: a counter cannot decrease/);
    expect(() => new Histogram({ name: 'kp_h', help: 'x', buckets: [1, 1] })).toThrow(/kp_h: buckets must increase/);
  });
});
