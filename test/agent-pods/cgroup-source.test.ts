/**
 * The cgroup source on real fixture trees (telegraf v2 directory, the EKS cgroup v1 dump
 * from elastic-agent-system-metrics) and on generated kubepods trees for both drivers,
 * both versions and three runtimes.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getLabel, isStaleNaN } from '../../shared/index.js';
import { Sampler } from '../../agent/sampler.js';
import { CgroupSource, detectCgroupLayout, readCgroupStats, readCgroupFile, podUidFromDir, containerIdFromDir } from '../../agent/sources/cgroup/index.js';
import { parseCpuMax } from '../../agent/sources/cgroup/parse.js';
import { PodStore } from '../../agent/discovery/pod-index.js';
import { fixture } from '../helpers/paths.js';
import { RecordingContext, RecordingSink } from './helpers.js';
import { generateKubepodsTree, valuesFor, type Driver, type Runtime } from './cgroup-tree.js';
import { extractZip } from './unzip.js';

const tmpDirs: string[] = [];
function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

describe('naming', () => {
  it.each([
    ['pod0f4c1a2b-1234-4abc-9def-0123456789ab', '0f4c1a2b-1234-4abc-9def-0123456789ab'],
    ['kubepods-burstable-pod7a96c459_d529_44ae_9f99_90d3798d6426.slice', '7a96c459-d529-44ae-9f99-90d3798d6426'],
    ['kubepods-pod7a96c459_d529_44ae_9f99_90d3798d6426.slice', '7a96c459-d529-44ae-9f99-90d3798d6426'],
    ['kubelet-kubepods-besteffort-pod7a96c459_d529_44ae_9f99_90d3798d6426.slice', '7a96c459-d529-44ae-9f99-90d3798d6426'],
    ['kubepods-burstable.slice', undefined],
    ['kubelet-kubepods.slice', undefined],
    ['system.slice', undefined],
  ])('pod dir %s', (dir, uid) => expect(podUidFromDir(dir)).toBe(uid));

  const id = '1d3d308a7d48a27814a68bf33a44acf4441c9c02463ca0bc1cdfdc8c0b4a8496';
  it.each([
    [`cri-containerd-${id}.scope`, id],
    [`crio-${id}.scope`, id],
    [`docker-${id}.scope`, id],
    [id, id],
    [`crio-${id}`, id],
    [`crio-conmon-${id}.scope`, undefined],
    ['init.scope', undefined],
  ])('container dir %s', (dir, want) => expect(containerIdFromDir(dir)).toBe(want));

  it.each([
    ['4800000 100000', { quotaUs: 4800000, periodUs: 100000 }],
    ['max 100000', { periodUs: 100000 }],
    ['50000', { quotaUs: 50000, periodUs: 100000 }],
    ['50000 0', undefined],
    ['50000 100000 1', undefined],
    ['abc 100000', undefined],
  ])('cpu.max %j', (text, want) => expect(parseCpuMax(text)).toEqual(want));

  it('parses every automaxprocs cpu.max variant without throwing, accepting only the valid ones', () => {
    const dir = fixture('cgroup/automaxprocs/cgroups/v2');
    const got: Record<string, unknown> = {};
    for (const f of ['set', 'unset', 'only-max', 'zero-period', 'invalid-max', 'invalid-period', 'too-few-fields', 'too-many-fields', 'empty']) {
      const text = readCgroupFile(join(dir, f));
      got[f] = text === undefined ? 'missing' : parseCpuMax(text);
    }
    expect(got['zero-period']).toBeUndefined();
    expect(got['invalid-max']).toBeUndefined();
    expect(got['too-many-fields']).toBeUndefined();
    expect(got['unset']).toEqual({ periodUs: expect.any(Number) });
    expect(got['set']).toMatchObject({ quotaUs: expect.any(Number) });
  });
});

describe('real fixture directories', () => {
  it('extracts the EKS dump identically with unzip and with the zlib fallback', () => {
    const a = tmp('zip-a-');
    const b = tmp('zip-b-');
    const zip = fixture('cgroup/elastic-agent-system-metrics/amzn2.zip');
    extractZip(zip, b, 'zlib');
    const list = (d: string) => (readdirSync(d, { recursive: true }) as string[]).sort();
    const files = list(b);
    expect(files.length).toBeGreaterThan(150);
    let hasUnzip = true;
    try {
      extractZip(zip, a, 'unzip');
    } catch {
      hasUnzip = false;
    }
    if (hasUnzip) {
      expect(list(a)).toEqual(files);
      for (const f of files) if (statSync(join(a, f)).isFile()) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
    }
  });

  it('reads the telegraf cgroup v2 directory with its exact values', () => {
    const dir = fixture('cgroup/telegraf/v2');
    const s = readCgroupStats({ version: 2, root: dir, unified: dir }, '/', readCgroupFile, { usage: true });
    expect(s).toMatchObject({
      cpuSeconds: 98701.325189,
      cfsPeriods: 3936904,
      cfsThrottledPeriods: 6004,
      cfsThrottledSeconds: 19175.137007,
      cpuQuotaUs: 4800000,
      cpuPeriodUs: 100000,
      memoryLimitBytes: 103079215104,
      memoryUsageBytes: 13071106048,
      memoryCacheBytes: 8532865024,
      memoryRssBytes: 2471755776,
      memoryWorkingSetBytes: 13071106048 - 2935459840,
      oomKills: 0,
      psiCpu: { some: 293391454, full: 277111656 },
      psiMemory: { some: 250773, full: 250662 },
      psiIo: { some: 185162400, full: 184607952 },
    });
  });

  it('reads the cadvisor cgroup v2 limit files (unlimited memory → 0)', () => {
    const d1 = fixture('cgroup/cadvisor/test_resources/cgroup_v2/test1');
    const d2 = fixture('cgroup/cadvisor/test_resources/cgroup_v2/test2');
    expect(readCgroupStats({ version: 2, root: d1, unified: d1 }, '/', readCgroupFile, { usage: false })).toMatchObject({ cpuQuotaUs: 20000, cpuPeriodUs: 100010, memoryLimitBytes: 123456789 });
    const s2 = readCgroupStats({ version: 2, root: d2, unified: d2 }, '/', readCgroupFile, { usage: false });
    expect(s2).toMatchObject({ cpuPeriodUs: 100010, memoryLimitBytes: 0 });
    expect(s2.cpuQuotaUs).toBeUndefined();
  });

  it('names the container of the EKS cgroup v1 dump (systemd driver, containerd) and reads its exact values', () => {
    const dir = tmp('amzn2-');
    extractZip(fixture('cgroup/elastic-agent-system-metrics/amzn2.zip'), dir);
    const root = join(dir, 'amzn2', 'sys', 'fs', 'cgroup');
    const layout = detectCgroupLayout(root);
    expect(layout).toMatchObject({ version: 1, cpu: join(root, 'cpu,cpuacct'), memory: join(root, 'memory') });
    const store = new PodStore();
    store.replaceAll([
      {
        metadata: { uid: '7a96c459-d529-44ae-9f99-90d3798d6426', namespace: 'kube-system', name: 'aws-node-x' },
        spec: { containers: [{ name: 'aws-node', image: 'amazon-k8s-cni:v1.15' }] },
        status: { containerStatuses: [{ name: 'aws-node', containerID: 'containerd://1d3d308a7d48a27814a68bf33a44acf4441c9c02463ca0bc1cdfdc8c0b4a8496', image: '', imageID: '', ready: true, restartCount: 0 }] },
      },
    ]);
    const src = new CgroupSource({ root, mode: 'kubernetes', podIndex: store });
    const sink = new RecordingSink();
    const ctx = new RecordingContext();
    src.collect(sink, ctx);
    expect(ctx.errors).toEqual([]);
    const l = { namespace: 'kube-system', pod: 'aws-node-x', container: 'aws-node', image: 'amazon-k8s-cni:v1.15' };
    expect(sink.get('container_cpu_cfs_periods_total', l)).toBe(0);
    expect(sink.get('container_cpu_cfs_throttled_seconds_total', l)).toBe(0);
    expect(sink.get('container_spec_cpu_quota', l)).toBeUndefined();
    expect(sink.get('container_spec_cpu_period', l)).toBe(100000);
    expect(sink.get('container_spec_memory_limit_bytes', l)).toBe(2147483648);
    expect(sink.get('container_memory_cache', l)).toBe(78397440);
    expect(sink.get('container_oom_events_total', l)).toBe(0);
    // The pod slice in the dump has no interface files, so it gives no series.
    expect(sink.samples.every((s) => s.labels.container === 'aws-node')).toBe(true);
    expect(sink.named('container_cpu_usage_seconds_total')).toHaveLength(0);

    const host = new CgroupSource({ root, mode: 'host' });
    const hs = new RecordingSink();
    host.collect(hs, new RecordingContext());
    const rel = '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod7a96c459_d529_44ae_9f99_90d3798d6426.slice/cri-containerd-1d3d308a7d48a27814a68bf33a44acf4441c9c02463ca0bc1cdfdc8c0b4a8496.scope';
    expect(hs.get('container_cpu_usage_seconds_total', { container: rel, cpu: 'total' })).toBe(124659.500367);
    expect(hs.get('container_memory_usage_bytes', { container: rel })).toBe(1215860736);
    expect(hs.get('container_memory_working_set_bytes', { container: rel })).toBe(1215860736 - 78557184);
    expect(hs.get('container_memory_rss', { container: rel })).toBe(1119465472);
  });
});

describe.each<[1 | 2, Driver, Runtime, boolean?]>([
  [2, 'systemd', 'containerd'],
  [2, 'systemd', 'containerd', true],
  [2, 'cgroupfs', 'containerd'],
  [2, 'systemd', 'crio'],
  [2, 'cgroupfs', 'crio'],
  [1, 'systemd', 'docker'],
  [1, 'cgroupfs', 'containerd'],
  [1, 'systemd', 'crio'],
])('generated kubepods tree: cgroup v%s, %s driver, %s (nested as kind: %s)', (version, driver, runtime, nested) => {
  const root = tmp(`kubepods-v${version}-`);
  const tree = generateKubepodsTree(root, { version, driver, runtime, nested, pods: 6, containersPerPod: (p) => 1 + (p % 3) });
  const store = new PodStore();
  store.replaceAll(tree.pods);
  const reads = new Map<string, number>();
  const src = new CgroupSource({
    root,
    mode: 'kubernetes',
    podIndex: store,
    readFile: (p) => {
      reads.set(p, (reads.get(p) ?? 0) + 1);
      return readCgroupFile(p);
    },
  });
  const sink = new RecordingSink();
  const ctx = new RecordingContext();
  src.collect(sink, ctx);

  it('emits throttling, limits, OOM kills, cache (and PSI on v2) with the exact values of every pod and container', () => {
    expect(ctx.errors).toEqual([]);
    for (const cg of tree.cgroups) {
      const v = valuesFor(cg.n);
      const l = cg.labels;
      expect(sink.get('container_cpu_cfs_periods_total', l), cg.rel).toBe(v.periods);
      expect(sink.get('container_cpu_cfs_throttled_periods_total', l)).toBe(v.throttled);
      expect(sink.get('container_cpu_cfs_throttled_seconds_total', l)).toBe(v.throttledUsec / 1e6);
      expect(sink.get('container_spec_cpu_quota', l)).toBe(v.quotaUs);
      expect(sink.get('container_spec_cpu_period', l)).toBe(v.periodUs);
      expect(sink.get('container_spec_memory_limit_bytes', l)).toBe(v.memLimit ?? 0);
      expect(sink.get('container_oom_events_total', l)).toBe(v.oomKills);
      expect(sink.get('container_memory_cache', l)).toBe(v.cache);
      if (version === 2) {
        expect(sink.get('container_pressure_cpu_waiting_seconds_total', l)).toBe(v.psiSome / 1e6);
        expect(sink.get('container_pressure_cpu_stalled_seconds_total', l)).toBe(v.psiFull / 1e6);
        expect(sink.get('container_pressure_memory_waiting_seconds_total', l)).toBe((v.psiSome + 1) / 1e6);
        expect(sink.get('container_pressure_io_stalled_seconds_total', l)).toBe((v.psiFull + 2) / 1e6);
      } else {
        expect(sink.get('container_pressure_cpu_waiting_seconds_total', l)).toBeUndefined();
      }
      // Usage comes from the kubelet summary in kubernetes mode: no duplicate series.
      expect(sink.get('container_cpu_usage_seconds_total', { ...l, cpu: 'total' })).toBeUndefined();
    }
  });

  it('skips sandboxes and conmon, and emits nothing else', () => {
    const names = new Set(tree.cgroups.map((c) => `${c.labels.pod}/${c.labels.container}`));
    for (const s of sink.samples) expect(names.has(`${s.labels.pod}/${s.labels.container}`)).toBe(true);
    const perCgroup = version === 2 ? 14 : 8;
    const quotaLess = tree.cgroups.filter((c) => valuesFor(c.n).quotaUs === undefined).length;
    expect(sink.samples.length).toBe(tree.cgroups.length * perCgroup - quotaLess);
  });

  it('reads every cgroup file at most once per tick', () => {
    expect(reads.size).toBeGreaterThan(tree.cgroups.length);
    for (const [path, n] of reads) expect(n, path).toBe(1);
    for (const ig of tree.ignored) for (const path of reads.keys()) expect(path.includes(ig)).toBe(false);
  });
});

describe('pods coming and going, and cgroups vanishing', () => {
  it('new pod cgroups appear on the next tick; removed ones get stale markers (through the Sampler)', async () => {
    const root = tmp('churn-');
    const spec = { version: 2 as const, driver: 'systemd' as const, runtime: 'containerd' as const, pods: 3 };
    const base = generateKubepodsTree(root, spec);
    const store = new PodStore();
    store.replaceAll(base.pods);
    let now = 5_000_000;
    const sampler = new Sampler({ sources: [new CgroupSource({ root, mode: 'kubernetes', podIndex: store })], baseLabels: { node: 'n1' }, intervalMs: 10_000, now: () => now });
    const pods = (b: Awaited<ReturnType<Sampler['tick']>>, stale: boolean) =>
      new Set(b.series.filter((s) => isStaleNaN(s.samples[0].v) === stale).map((s) => getLabel(s.labels, 'pod')));

    expect(pods(await sampler.tick(), false)).toEqual(new Set(['pod-0', 'pod-1', 'pod-2']));

    // An autoscaler adds a pod: the watch sees it and the kubelet makes its cgroups.
    const added = generateKubepodsTree(root, { ...spec, pods: 1 }, 7);
    store.upsert(added.pods[0]);
    now += 10_000;
    const b2 = await sampler.tick();
    expect(pods(b2, false)).toEqual(new Set(['pod-0', 'pod-1', 'pod-2', 'pod-7']));
    expect(pods(b2, true).size).toBe(0);

    // pod-1 is deleted: its cgroups go, then the watch drops it.
    for (const cg of base.cgroups.filter((c) => c.labels.pod === 'pod-1' && c.labels.container === '')) rmSync(join(root, cg.rel), { recursive: true });
    store.delete(base.pods[1]);
    now += 10_000;
    const b3 = await sampler.tick();
    expect(pods(b3, false)).toEqual(new Set(['pod-0', 'pod-2', 'pod-7']));
    expect(pods(b3, true)).toEqual(new Set(['pod-1']));
    expect(b3.series.filter((s) => isStaleNaN(s.samples[0].v)).length).toBe(3 * 14 - base.cgroups.filter((c) => c.labels.pod === 'pod-1' && valuesFor(c.n).quotaUs === undefined).length);
  });

  it('counts a cgroup that vanishes mid-read and ships the rest', () => {
    const root = tmp('vanish-');
    const tree = generateKubepodsTree(root, { version: 2, driver: 'cgroupfs', runtime: 'containerd', pods: 2 });
    const store = new PodStore();
    store.replaceAll(tree.pods);
    const victim = tree.cgroups[1];
    let removed = false;
    const src = new CgroupSource({
      root,
      mode: 'kubernetes',
      podIndex: store,
      readFile: (p) => {
        if (!removed && p.startsWith(join(root, victim.rel) + '/')) {
          rmSync(join(root, victim.rel), { recursive: true });
          removed = true;
        }
        return readCgroupFile(p);
      },
    });
    const sink = new RecordingSink();
    const ctx = new RecordingContext();
    src.collect(sink, ctx);
    expect(ctx.reasons()).toEqual(['cgroup_vanished']);
    expect((ctx.errors[0].err as Error).message).toContain(victim.rel);
    expect(sink.get('container_oom_events_total', tree.cgroups[2].labels)).toBe(valuesFor(tree.cgroups[2].n).oomKills);
    expect(sink.samples.some((s) => s.labels.container === victim.labels.container && s.labels.pod === victim.labels.pod)).toBe(false);
  });

  it('reports pod cgroups the (synced) watch does not know, once per tick', () => {
    const root = tmp('unknown-');
    const tree = generateKubepodsTree(root, { version: 2, driver: 'systemd', runtime: 'containerd', pods: 3 });
    const store = new PodStore();
    store.replaceAll(tree.pods.slice(1));
    const ctx = new RecordingContext();
    const sink = new RecordingSink();
    new CgroupSource({ root, mode: 'kubernetes', podIndex: store }).collect(sink, ctx);
    expect(ctx.reasons()).toEqual(['pod_unknown']);
    expect(sink.samples.some((s) => s.labels.pod === 'pod-0')).toBe(false);
    expect(sink.samples.some((s) => s.labels.pod === 'pod-2')).toBe(true);
  });

  it('refuses a root with no cgroup hierarchy, clearly', () => {
    const root = tmp('empty-');
    const ctx = new RecordingContext();
    new CgroupSource({ root, mode: 'host' }).collect(new RecordingSink(), ctx);
    expect(ctx.reasons()).toEqual(['layout']);
    expect((ctx.errors[0].err as Error).message).toMatch(/no cgroup hierarchy under .*cgroup\.controllers/);
    expect(() => new CgroupSource({ root, mode: 'kubernetes' })).toThrow(/needs a pod index/);
  });

  it('host mode caps the number of cgroups and says so', () => {
    const root = tmp('cap-');
    const tree = generateKubepodsTree(root, { version: 2, driver: 'cgroupfs', runtime: 'containerd', pods: 4 });
    const ctx = new RecordingContext();
    const sink = new RecordingSink();
    new CgroupSource({ root, mode: 'host', maxCgroups: 5 }).collect(sink, ctx);
    expect(ctx.reasons()).toEqual(['too_many_cgroups']);
    expect(new Set(sink.samples.map((s) => s.labels.container)).size).toBeLessThanOrEqual(5);
    expect(tree.cgroups.length).toBeGreaterThan(5);
  });

  it('host mode on a copied v2 tree names each cgroup by its path', () => {
    const root = tmp('hostv2-');
    cpSync(fixture('cgroup/telegraf/v2'), join(root, 'system.slice', 'foo.service'), { recursive: true });
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory io\n');
    const sink = new RecordingSink();
    new CgroupSource({ root, mode: 'host' }).collect(sink, new RecordingContext());
    expect(sink.get('container_cpu_usage_seconds_total', { container: '/system.slice/foo.service', cpu: 'total' })).toBe(98701.325189);
    expect(sink.get('container_cpu_cfs_throttled_periods_total', { container: '/system.slice/foo.service' })).toBe(6004);
  });
});
