/**
 * The node source as the sampler runs it: missing files, disks that come and go between
 * ticks, missing PSI, hung and failing statfs, host network namespace, collector choice.
 */
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStaleNaN } from '../../shared/index.js';
import { Sampler } from '../../agent/sampler.js';
import { NodeSource } from '../../agent/sources/node/index.js';
import { filesystemCollector, type StatfsResult } from '../../agent/sources/node/filesystem.js';
import type { CollectorEnv } from '../../agent/sources/node/read.js';
import { CaptureSink, testContext } from './capture-sink.js';

let root: string;
const put = (rel: string, text: string) => {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
};

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kubepulse-node-src-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const DISK = (maj: number, min: number, dev: string, reads: number) => `${String(maj).padStart(4)} ${String(min).padStart(7)} ${dev} ${reads} 0 8 4 2 0 16 6 0 10 10 0 0 0 0 1 2\n`;

describe('NodeSource under the sampler', () => {
  it('keeps ticking with most files missing, counts each failure, and stamps the target labels', async () => {
    put('proc/loadavg', '0.5 0.25 0.125 1/100 42\n');
    const errors: string[] = [];
    const sampler = new Sampler({
      sources: [new NodeSource({ hostRoot: root, targetLabels: { job: 'node-exporter' } })],
      baseLabels: { cluster: 'c1', node: 'n1', instance: 'n1:9191' },
      intervalMs: 10_000,
      metrics: { tickDuration() {}, sourceDuration() {}, deadlineExceeded() {}, sourceError: (_s, reason) => errors.push(reason) },
    });
    const batch = await sampler.tick();
    const load1 = batch.series.find((s) => s.labels.some((l) => l.name === '__name__' && l.value === 'node_load1'));
    expect(load1?.samples[0].v).toBe(0.5);
    expect(Object.fromEntries(load1!.labels.map((l) => [l.name, l.value]))).toEqual({ __name__: 'node_load1', cluster: 'c1', node: 'n1', instance: 'n1:9191', job: 'node-exporter' });
    expect(errors).toEqual(expect.arrayContaining(['stat_unavailable', 'meminfo_unavailable', 'diskstats_unavailable', 'filesystem_unavailable', 'netdev_unavailable', 'pressure_unavailable']));
    expect(errors).not.toContain('loadavg_unavailable');
    // uname and time need no files.
    expect(batch.series.some((s) => s.labels.some((l) => l.value === 'node_uname_info'))).toBe(true);
  });

  it('adds the series of a disk that appears between ticks and marks a vanished disk stale', async () => {
    put('proc/diskstats', DISK(8, 0, 'sda', 100) + DISK(8, 1, 'sda1', 5));
    const sampler = new Sampler({
      sources: [new NodeSource({ hostRoot: root, targetLabels: { job: 'node-exporter' }, collectors: ['diskstats'] })],
      baseLabels: {},
      intervalMs: 10_000,
    });
    const reads = (b: Awaited<ReturnType<Sampler['tick']>>) =>
      new Map(
        b.series
          .filter((s) => s.labels.some((l) => l.value === 'node_disk_reads_completed_total'))
          .map((s) => [s.labels.find((l) => l.name === 'device')!.value, s.samples[0].v]),
      );
    const t1 = reads(await sampler.tick());
    expect([...t1]).toEqual([['sda', 100]]);
    put('proc/diskstats', DISK(8, 0, 'sda', 150) + DISK(259, 0, 'nvme0n1', 7) + DISK(259, 1, 'nvme0n1p1', 3));
    const t2 = reads(await sampler.tick());
    expect(t2).toEqual(new Map([['sda', 150], ['nvme0n1', 7]]));
    put('proc/diskstats', DISK(259, 0, 'nvme0n1', 9));
    const t3 = reads(await sampler.tick());
    expect(t3.get('nvme0n1')).toBe(9);
    expect(isStaleNaN(t3.get('sda')!)).toBe(true);
  });
});

describe('NodeSource collectors', () => {
  it('reports missing PSI once per resource, and treats a missing irq file as normal', async () => {
    put('proc/pressure/.keep', '');
    const ctx = testContext();
    const sink = new CaptureSink();
    await new NodeSource({ hostRoot: root, targetLabels: {}, collectors: ['pressure'] }).collect(sink, ctx);
    expect(ctx.errors.map((e) => e.reason)).toEqual(['pressure_unavailable', 'pressure_unavailable', 'pressure_unavailable']);
    expect(sink.samples).toEqual([]);
    put('proc/pressure/io', 'some avg10=0.00 avg60=0.00 avg300=0.00 total=2000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=1000000\n');
    const ctx2 = testContext();
    const sink2 = new CaptureSink();
    await new NodeSource({ hostRoot: root, targetLabels: {}, collectors: ['pressure'] }).collect(sink2, ctx2);
    expect(ctx2.errors).toHaveLength(2);
    expect([...sink2.byKey()]).toEqual([
      ['node_pressure_io_waiting_seconds_total{}', 2],
      ['node_pressure_io_stalled_seconds_total{}', 1],
    ]);
  });

  it('reads the host network namespace (proc/1/net/dev) before its own', async () => {
    const header = 'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';
    put('proc/net/dev', header + '  eth0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n');
    put('proc/1/net/dev', header + '  ens5: 7 1 0 0 0 0 0 0 9 1 0 0 0 0 0 0\n');
    const sink = new CaptureSink();
    await new NodeSource({ hostRoot: root, targetLabels: {}, collectors: ['netdev'] }).collect(sink, testContext());
    expect(sink.byKey().get('node_network_receive_bytes_total{device="ens5"}')).toBe(7);
    expect(sink.byKey().has('node_network_receive_bytes_total{device="eth0"}')).toBe(false);
  });

  it('splits /proc/stat between the cpu and stat collectors', async () => {
    put('proc/stat', 'cpu 1 1 1 1\ncpu0 100 0 50 1000 0 0 0 0 0 0\nbtime 1700000000\nctxt 9\n');
    const only = async (c: 'cpu' | 'stat') => {
      const sink = new CaptureSink();
      await new NodeSource({ hostRoot: root, targetLabels: {}, collectors: [c] }).collect(sink, testContext());
      return sink.names();
    };
    const cpu = await only('cpu');
    expect(cpu.has('node_cpu_seconds_total')).toBe(true);
    expect(cpu.has('node_boot_time_seconds')).toBe(false);
    const stat = await only('stat');
    expect(stat.has('node_boot_time_seconds')).toBe(true);
    expect(stat.has('node_cpu_seconds_total')).toBe(false);
  });

  it('refuses an unknown collector name and an empty host root', () => {
    expect(() => new NodeSource({ hostRoot: '/', targetLabels: {}, collectors: ['cpu', 'bogus' as 'cpu'] })).toThrow(/unknown collector "bogus"/);
    expect(() => new NodeSource({ hostRoot: '', targetLabels: {} })).toThrow(/hostRoot/);
  });

  it('returns at once, without errors, when the tick is already over', async () => {
    put('proc/loadavg', '0.5 0.25 0.125 1/100 42\n');
    const ac = new AbortController();
    ac.abort();
    const ctx = testContext(Date.now(), ac.signal);
    const sink = new CaptureSink();
    await new NodeSource({ hostRoot: root, targetLabels: {} }).collect(sink, ctx);
    expect(ctx.errors).toEqual([]);
    expect(sink.samples).toEqual([]);
  });
});

describe('filesystem collector', () => {
  const env = (): CollectorEnv & { errors: string[] } => {
    const errors: string[] = [];
    return { paths: { proc: join(root, 'proc'), sys: join(root, 'sys'), root, udevData: join(root, 'udev') }, signal: new AbortController().signal, now: Date.now(), errors, reportError: (r) => errors.push(r) };
  };
  const MOUNTS =
    '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n' +
    '28 27 0:25 / /mnt/nfs rw,relatime - nfs4 server:/export rw\n' +
    '29 27 0:26 / /data ro,relatime - xfs /dev/vdb rw\n' +
    '22 27 0:21 / /proc rw,relatime - proc proc rw\n' +
    '30 27 0:30 / /var/lib/docker/overlay2/abc/merged rw - overlay overlay rw\n';

  it('statfs-es each kept mount under the host root with the real statfs', async () => {
    put('proc/1/mountinfo', '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n');
    const sink = new CaptureSink();
    await filesystemCollector().collect(env(), sink);
    const want = statfsSync(root);
    const got = sink.byKey();
    expect(got.get('node_filesystem_size_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"}')).toBe(want.blocks * want.bsize);
    expect(got.get('node_filesystem_files{device="/dev/vda",fstype="ext4",mountpoint="/"}')).toBe(want.files);
    expect(got.get('node_filesystem_device_error{device="/dev/vda",fstype="ext4",mountpoint="/"}')).toBe(0);
    expect(got.get('node_filesystem_mount_info{device="/dev/vda",major="254",minor="0",mountpoint="/"}')).toBe(1);
  });

  it('times out a hung statfs, reports device_error, and does not pile up calls on the hung mount', async () => {
    put('proc/1/mountinfo', MOUNTS);
    const calls: string[] = [];
    let release: (() => void) | undefined;
    let recovered = false;
    const ok: StatfsResult = { bsize: 4096, blocks: 100, bfree: 50, bavail: 40, files: 10, ffree: 5 };
    const statfs = (p: string) => {
      calls.push(p);
      if (p.endsWith('/mnt/nfs') && !recovered) return new Promise<StatfsResult>((resolve) => (release = () => resolve(ok)));
      return Promise.resolve(ok);
    };
    const c = filesystemCollector({ statfs, statfsTimeoutMs: 30 });
    const first = new CaptureSink();
    const started = performance.now();
    await c.collect(env(), first);
    expect(performance.now() - started).toBeLessThan(2000);
    const got = first.byKey();
    expect(got.get('node_filesystem_device_error{device="server:/export",device_error="mountpoint timeout",fstype="nfs4",mountpoint="/mnt/nfs"}')).toBe(1);
    expect(got.has('node_filesystem_size_bytes{device="server:/export",fstype="nfs4",mountpoint="/mnt/nfs"}')).toBe(false);
    expect(got.get('node_filesystem_size_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"}')).toBe(409600);
    expect(got.get('node_filesystem_readonly{device="/dev/vdb",fstype="xfs",mountpoint="/data"}')).toBe(1);
    // Excluded by node_exporter's defaults: /proc by mount point and fs type, docker's overlay.
    expect([...got.keys()].some((k) => k.includes('/proc') || k.includes('overlay'))).toBe(false);

    await c.collect(env(), new CaptureSink());
    expect(calls.filter((p) => p.endsWith('/mnt/nfs'))).toHaveLength(1);

    recovered = true;
    release!();
    await new Promise((r) => setImmediate(r));
    const third = new CaptureSink();
    await c.collect(env(), third);
    expect(calls.filter((p) => p.endsWith('/mnt/nfs'))).toHaveLength(2);
    expect(third.byKey().get('node_filesystem_device_error{device="server:/export",fstype="nfs4",mountpoint="/mnt/nfs"}')).toBe(0);
  });

  it('labels a failing statfs with the error text', async () => {
    put('proc/1/mountinfo', '27 1 254:0 / /secret rw - ext4 /dev/vdc rw\n');
    const statfs = () => Promise.reject(Object.assign(new Error("EACCES: permission denied, statfs '/secret'"), { code: 'EACCES' }));
    const sink = new CaptureSink();
    await filesystemCollector({ statfs }).collect(env(), sink);
    expect(sink.byKey().get('node_filesystem_device_error{device="/dev/vdc",device_error="permission denied",fstype="ext4",mountpoint="/secret"}')).toBe(1);
  });

  it('falls back to its own mount table and keeps only the mounts under the host root', async () => {
    const hostRoot = join(root, 'host');
    mkdirSync(hostRoot);
    put('proc/self/mountinfo', `27 1 254:0 / / rw - ext4 /dev/vda rw\n40 27 254:1 / ${hostRoot} rw - ext4 /dev/vdb rw\n41 40 254:2 / ${hostRoot}/var rw - ext4 /dev/vdd rw\n`);
    const e = { ...env(), paths: { ...env().paths, root: hostRoot } };
    const seen: string[] = [];
    const sink = new CaptureSink();
    await filesystemCollector({ statfs: (p) => (seen.push(p), Promise.resolve({ bsize: 1, blocks: 1, bfree: 1, bavail: 1, files: 1, ffree: 1 })) }).collect(e, sink);
    expect(seen.sort()).toEqual([hostRoot, join(hostRoot, 'var')]);
    expect(sink.byKey().has('node_filesystem_size_bytes{device="/dev/vdd",fstype="ext4",mountpoint="/var"}')).toBe(true);
    unlinkSync(join(root, 'proc/self/mountinfo'));
  });
});
