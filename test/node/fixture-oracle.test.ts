/**
 * Runs the node source on node_exporter's own fixture tree and compares every series it
 * emits with node_exporter's expected output (e2e-output.txt) for the same collectors.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers/paths.js';
import { NodeSource } from '../../agent/sources/node/index.js';
import { CaptureSink, parseExposition, testContext } from './capture-sink.js';
import { unpackNodeExporterFixtures } from './ttar.js';

const FIX = fixture('procfs-sysfs/node_exporter/collector-fixtures');

/**
 * The families of the collectors the node source covers, as they appear in e2e-output.txt.
 * Left out: netdev's `node_network_{receive,transmit}_*_total` (node_exporter's e2e run read
 * them from the CI host through netlink, not from the fixtures), node_time_seconds and
 * node_time_zone_* (stripped from the oracle), and non-default collectors that share a
 * prefix (cpufreq, cpu.info, cpu_vulnerabilities, meminfo_numa).
 */
const COVERED =
  /^node_(cpu_(seconds_total|guest_seconds_total|core_throttles_total|package_throttles_total|isolated)|boot_time_seconds|context_switches_total|intr_total|forks_total|procs_(running|blocked)|memory_(?!numa_)|load(1|5|15)\{|disk_|network_(?!(receive|transmit)_\w+_total\{)|netstat_|sockstat_|filefd_|vmstat_|pressure_|time_clocksource_)/;

let tmp: string;
let emitted: Map<string, number>;
let expected: Map<string, number>;
let expectedTypes: Map<string, string>;
let errors: Array<{ reason: string; err: unknown }>;
let sink: CaptureSink;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'kubepulse-node-fixtures-'));
  unpackNodeExporterFixtures(FIX, tmp);
  // The flags node_exporter's end-to-end-test.sh runs with, translated to our options.
  const src = new NodeSource({
    hostRoot: FIX,
    procPath: join(FIX, 'proc'),
    sysPath: join(tmp, 'sys'),
    udevDataPath: join(tmp, 'udev/data'),
    targetLabels: { job: 'node-exporter' },
    collectors: ['cpu', 'stat', 'meminfo', 'loadavg', 'diskstats', 'netclass', 'netstat', 'sockstat', 'filefd', 'vmstat', 'pressure', 'time'],
    netclass: { ignoredDevices: /(dmz|int)/, ignoreInvalidSpeed: true },
    pageSize: 4096,
  });
  sink = new CaptureSink();
  const ctx = testContext();
  await src.collect(sink, ctx);
  errors = ctx.errors;
  emitted = new Map([...sink.byKey()].filter(([k]) => COVERED.test(k)));
  const parsed = parseExposition(readFileSync(join(FIX, 'e2e-output.txt'), 'utf8'));
  expected = new Map([...parsed.series].filter(([k]) => COVERED.test(k)));
  expectedTypes = parsed.types;
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function close(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

describe('node source on node_exporter fixtures', () => {
  it('reports no source errors on the fixture tree', () => {
    expect(errors.map((e) => `${e.reason}: ${String(e.err)}`)).toEqual([]);
  });

  it('covers a substantial part of the oracle', () => {
    expect(expected.size).toBeGreaterThan(300);
    expect(emitted.size).toBeGreaterThan(300);
  });

  it.each([
    'node_cpu_seconds_total', 'node_cpu_guest_seconds_total', 'node_cpu_core_throttles_total', 'node_cpu_package_throttles_total', 'node_cpu_isolated',
    'node_boot_time_seconds', 'node_context_switches_total', 'node_intr_total', 'node_forks_total', 'node_procs_running', 'node_procs_blocked',
    'node_memory_MemTotal_bytes', 'node_memory_Active_anon_bytes', 'node_memory_HugePages_Total', 'node_load1', 'node_load15',
    'node_disk_read_bytes_total', 'node_disk_flush_requests_total', 'node_disk_info', 'node_disk_filesystem_info', 'node_disk_device_mapper_info', 'node_disk_ata_rotation_rate_rpm',
    'node_network_info', 'node_network_up', 'node_network_speed_bytes', 'node_network_mtu_bytes', 'node_network_carrier_up_changes_total',
    'node_netstat_Tcp_InSegs', 'node_netstat_TcpExt_ListenDrops', 'node_netstat_Udp6_InErrors', 'node_sockstat_TCP_mem_bytes', 'node_sockstat_TCP6_inuse',
    'node_filefd_allocated', 'node_vmstat_oom_kill', 'node_pressure_cpu_waiting_seconds_total', 'node_pressure_irq_stalled_seconds_total', 'node_time_clocksource_current_info',
  ])('compares %s with the oracle', (name) => {
    const want = [...expected.keys()].filter((k) => k.startsWith(`${name}{`));
    expect(want.length).toBeGreaterThan(0);
    for (const k of want) expect(emitted.get(k), k).toBeDefined();
  });

  it('emits every expected series of the covered collectors', () => {
    const missing = [...expected.keys()].filter((k) => !emitted.has(k));
    expect(missing).toEqual([]);
  });

  it('emits no series node_exporter does not', () => {
    const extra = [...emitted.keys()].filter((k) => !expected.has(k));
    expect(extra).toEqual([]);
  });

  it('gives the same value for every series', () => {
    const wrong = [...expected].filter(([k, v]) => emitted.has(k) && !close(emitted.get(k)!, v)).map(([k, v]) => `${k}: want ${v}, got ${emitted.get(k)}`);
    expect(wrong).toEqual([]);
  });

  it('declares the same metric type as node_exporter', () => {
    const wrong: string[] = [];
    for (const name of new Set([...emitted.keys()].map((k) => k.slice(0, k.indexOf('{'))))) {
      const want = expectedTypes.get(name);
      const got = sink.families.get(name)?.type;
      if (want !== got) wrong.push(`${name}: want ${want}, got ${got}`);
    }
    expect(wrong).toEqual([]);
  });
});
