/**
 * Live, side by side: the real prometheus-node-exporter and the node source read this
 * machine within the same second. The sets of series names of the covered collectors are
 * equal, gauges agree (memory within 1 % of MemTotal, filesystem sizes exactly), and
 * counters agree in rate over a few seconds (each read of the node source sits between two
 * node_exporter scrapes, so the check is exact on a busy machine too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeSource } from '../../agent/sources/node/index.js';
import { CaptureSink, parseExposition, testContext } from './capture-sink.js';
import type { RunningExporter } from './live-node-exporter.js';
import { nodeExporterAvailable, startNodeExporter } from './live-node-exporter.js';

/** Families node_exporter added after 1.5.0 (the Debian build here) that the node source emits. */
const NEWER_THAN_1_5 = new Set(['node_filesystem_mount_info', 'node_pressure_irq_stalled_seconds_total', 'node_cpu_isolated']);
/** Labels added after 1.5.0, dropped before comparing series. */
const NEWER_LABELS: Record<string, string[]> = { node_disk_info: ['rotational'], node_network_info: ['adminstate'], node_filesystem_device_error: ['device_error'] };
const SELF = /^(go_|process_|promhttp_|node_scrape_|node_exporter_)/;

interface Snapshot {
  series: Map<string, number>;
  types: Map<string, string>;
}

function strip(key: string): string {
  const name = key.slice(0, key.indexOf('{'));
  const drop = NEWER_LABELS[name];
  if (!drop) return key;
  const body = key.slice(name.length + 1, -1);
  const kept = body === '' ? [] : body.split(/,(?=[a-z_]+=")/).filter((kv) => !drop.includes(kv.slice(0, kv.indexOf('='))));
  return `${name}{${kept.join(',')}}`;
}

const nameOf = (k: string) => k.slice(0, k.indexOf('{'));

let exporter: RunningExporter | undefined;
const source = new NodeSource({ hostRoot: '/', targetLabels: { job: 'node-exporter' } });
/** node_exporter just before (`ne*`) and just after (`ne*After`) each read of the node source (`kp*`). */
let ne0: Snapshot, kp0: Snapshot, ne0After: Snapshot, ne1: Snapshot, kp1: Snapshot, ne1After: Snapshot;
const kpErrors: string[] = [];

function neSnapshot(text: string): Snapshot {
  const ne = parseExposition(text);
  return { series: new Map([...ne.series].filter(([k]) => !SELF.test(k)).map(([k, v]) => [strip(k), v])), types: ne.types };
}

/**
 * node_exporter, then the node source, then node_exporter again: every counter the node
 * source read must lie between the two node_exporter values, which makes the comparison
 * exact however bursty the machine is.
 */
async function sandwich(): Promise<[Snapshot, Snapshot, Snapshot]> {
  const sink = new CaptureSink();
  const ctx = testContext();
  const before = await exporter!.scrape();
  await source.collect(sink, ctx);
  const after = await exporter!.scrape();
  kpErrors.push(...ctx.errors.map((e) => `${e.reason}: ${String(e.err)}`));
  const kp = new Map([...sink.byKey()].map(([k, v]) => [strip(k), v]));
  const types = new Map([...sink.families].map(([n, f]) => [n, f.type as string]));
  return [neSnapshot(before), { series: kp, types }, neSnapshot(after)];
}

describe.skipIf(!nodeExporterAvailable())('node source vs prometheus-node-exporter on this machine', () => {
  beforeAll(async () => {
    exporter = await startNodeExporter();
    [ne0, kp0, ne0After] = await sandwich();
    await new Promise((r) => setTimeout(r, 3000));
    [ne1, kp1, ne1After] = await sandwich();
  }, 30_000);

  afterAll(async () => {
    await exporter?.stop();
  });

  it('reads this machine without source errors', () => {
    expect(kpErrors).toEqual([]);
  });

  it('emits the same set of series names', () => {
    const ne = new Set([...ne1.series.keys()].map(nameOf));
    const kp = new Set([...kp1.series.keys()].map(nameOf).filter((n) => !NEWER_THAN_1_5.has(n)));
    expect({ onlyKubepulse: [...kp].filter((n) => !ne.has(n)).sort(), onlyNodeExporter: [...ne].filter((n) => !kp.has(n)).sort() }).toEqual({ onlyKubepulse: [], onlyNodeExporter: [] });
    expect(kp.size).toBeGreaterThan(100);
  });

  it('emits the same series (names and labels) for the stable families', () => {
    // Sockets come and go between the two reads; everything else is keyed by stable labels.
    const ne = [...ne1.series.keys()].sort();
    const kp = [...kp1.series.keys()].filter((k) => !NEWER_THAN_1_5.has(nameOf(k))).sort();
    expect(kp).toEqual(ne);
  });

  it('declares the same metric types', () => {
    const wrong = [...kp1.types].filter(([n]) => ne1.types.has(n) && ne1.types.get(n) !== kp1.types.get(n)).map(([n, t]) => `${n}: ${t} vs ${ne1.types.get(n)}`);
    expect(wrong).toEqual([]);
  });

  it('agrees on memory within 1 % of MemTotal', () => {
    const total = ne1.series.get('node_memory_MemTotal_bytes{}')!;
    expect(total).toBeGreaterThan(0);
    const off = [...ne1.series].filter(([k]) => k.startsWith('node_memory_')).filter(([k, v]) => !(Math.abs((kp1.series.get(k) ?? Number.NaN) - v) <= 0.01 * total));
    expect(off.map(([k, v]) => `${k}: ${v} vs ${kp1.series.get(k)}`)).toEqual([]);
  });

  it('agrees exactly on filesystem sizes and inode totals, and closely on free space', () => {
    const sizes = [...ne1.series].filter(([k]) => k.startsWith('node_filesystem_size_bytes{'));
    expect(sizes.length).toBeGreaterThan(0);
    for (const [k, v] of [...ne1.series].filter(([k]) => /^node_filesystem_(size_bytes|files|readonly|device_error)\{/.test(k))) expect(kp1.series.get(k), k).toBe(v);
    for (const [k, v] of [...ne1.series].filter(([k]) => /^node_filesystem_(free|avail)_bytes\{/.test(k))) {
      const size = ne1.series.get(k.replace(/_(free|avail)_bytes\{/, '_size_bytes{'))!;
      expect(Math.abs(kp1.series.get(k)! - v), k).toBeLessThanOrEqual(0.005 * size);
    }
  });

  it('agrees exactly on the static gauges', () => {
    const exact = /^node_(network_(up|info|mtu_bytes|speed_bytes|flags|iface_id|address_assign_type|protocol_type|transmit_queue_length|device_id)|disk_info|uname_info|filefd_maximum|time_clocksource_\w+|time_zone_offset_seconds|boot_time_seconds)\{/;
    const keys = [...ne1.series.keys()].filter((k) => exact.test(k));
    expect(keys.length).toBeGreaterThan(10);
    const wrong = keys.filter((k) => kp1.series.get(k) !== ne1.series.get(k)).map((k) => `${k}: ${ne1.series.get(k)} vs ${kp1.series.get(k)}`);
    expect(wrong).toEqual([]);
  });

  it('agrees on the clock and the load average', () => {
    expect(Math.abs(kp1.series.get('node_time_seconds{}')! - ne1.series.get('node_time_seconds{}')!)).toBeLessThan(1);
    for (const k of ['node_load1{}', 'node_load5{}', 'node_load15{}']) expect(Math.abs(kp1.series.get(k)! - ne1.series.get(k)!), k).toBeLessThan(0.5);
  });

  const counterKeys = () => [...ne1.series.keys()].filter((k) => ne1.types.get(nameOf(k)) === 'counter' || /^node_(netstat_(Tcp|Udp|Ip|Icmp)\w*_(In|Out)|vmstat_p)/.test(k));
  const within = (v: number, lo: number, hi: number) => v >= lo - 1e-9 * Math.abs(lo) - 1e-9 && v <= hi + 1e-9 * Math.abs(hi) + 1e-9;

  it('reads every counter between the node_exporter scrapes just before and just after', () => {
    const wrong: string[] = [];
    for (const k of counterKeys()) {
      for (const [before, kp, after] of [[ne0, kp0, ne0After], [ne1, kp1, ne1After]] as const) {
        const v = kp.series.get(k);
        if (v === undefined || !within(v, before.series.get(k)!, after.series.get(k)!)) wrong.push(`${k}: ${before.series.get(k)} ≤ ${v} ≤ ${after.series.get(k)} fails`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('agrees on counter rates over a 3 s window', () => {
    const keys = counterKeys();
    expect(keys.length).toBeGreaterThan(50);
    const wrong: string[] = [];
    let moving = 0;
    for (const k of keys) {
      const dKp = kp1.series.get(k)! - kp0.series.get(k)!;
      // The widest and narrowest windows node_exporter saw around ours.
      const lo = ne1.series.get(k)! - ne0After.series.get(k)!;
      const hi = ne1After.series.get(k)! - ne0.series.get(k)!;
      if (dKp > 0) moving++;
      if (!within(dKp, lo, hi)) wrong.push(`${k}: kubepulse +${dKp}, node_exporter between +${lo} and +${hi}`);
    }
    expect(moving).toBeGreaterThan(10);
    expect(wrong).toEqual([]);
  });
});
