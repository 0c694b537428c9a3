/**
 * The cgroup source: what the kubelet Summary API lacks — CFS throttling, PSI, OOM
 * kills, and the limits the kernel enforces — for every pod and container cgroup on the
 * node (`mode: 'kubernetes'`), or, in host mode, every cgroup under the root as a
 * "container" named by its path, with CPU and memory usage too.
 */
import { existsSync, readdirSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { JOB_KUBELET, LABEL_JOB, LABEL_METRICS_PATH, METRICS_PATH_CADVISOR, KubepulseError, errorMessage } from '../../../shared/index.js';
import type { MetricTypeName } from '../../../shared/index.js';
import type { CollectContext, MetricSink, Source } from '../source.js';
import type { PodIndex } from '../../discovery/pod-index.js';
import { detectCgroupLayout, hierarchies, type CgroupLayout } from './layout.js';
import { containerIdFromDir, isKubepodsDir, podUidFromDir } from './naming.js';
import { readCgroupFile, readCgroupStats, type CgroupStats, type FileReader } from './read-stats.js';
import { isCgroupFs, keepOpenReader, type KeptFileReader } from './open-files.js';
import type { PsiTotals } from './parse.js';

export type CgroupMode = 'kubernetes' | 'host';

export interface CgroupSourceOptions {
  /** Where cgroupfs is mounted: `/sys/fs/cgroup`, or `/host/sys/fs/cgroup` in the DaemonSet. */
  root: string;
  /** `kubernetes`: pod and container cgroups under kubepods, named through `podIndex`. `host`: every cgroup. */
  mode: CgroupMode;
  /** Required in kubernetes mode: maps pod UIDs and container IDs to names. */
  podIndex?: PodIndex;
  /** Default `{job: 'kubelet', metrics_path: '/metrics/cadvisor'}`. */
  targetLabels?: Readonly<Record<string, string>>;
  /** Force a cgroup version instead of detecting it. Default 'auto'. */
  version?: 'auto' | 'v1' | 'v2';
  /** Host mode: at most this many cgroups per tick (the rest are counted as an error). Default 2000. */
  maxCgroups?: number;
  /** Host mode: how deep below the root to look. Default 8. */
  maxDepth?: number;
  /**
   * File reader, for tests and benchmarks that count reads. One with an `endTick` method
   * (a {@link KeptFileReader}) is told when each tick's reads are done.
   */
  readFile?: FileReader | KeptFileReader;
  /**
   * Keep cgroup files open between ticks and re-read them at offset 0 (a third of the
   * CPU of open+read+close). Default: when the cgroup hierarchy is cgroupfs, where that
   * is exact; never on other filesystems (test trees), where it would not be.
   */
  keepFilesOpen?: boolean;
}

type Family = readonly [string, MetricTypeName, string];

const FAMILIES: readonly Family[] = [
  ['container_cpu_cfs_periods_total', 'counter', 'Number of elapsed enforcement period intervals.'],
  ['container_cpu_cfs_throttled_periods_total', 'counter', 'Number of throttled period intervals.'],
  ['container_cpu_cfs_throttled_seconds_total', 'counter', 'Total time duration the container has been throttled.'],
  ['container_spec_cpu_quota', 'gauge', 'CPU quota of the container.'],
  ['container_spec_cpu_period', 'gauge', 'CPU period of the container.'],
  ['container_spec_memory_limit_bytes', 'gauge', 'Memory limit for the container.'],
  ['container_memory_cache', 'gauge', 'Number of bytes of page cache memory.'],
  ['container_oom_events_total', 'counter', 'Count of out of memory events observed for the container'],
  ['container_pressure_cpu_waiting_seconds_total', 'counter', 'Total time duration tasks in the container have waited due to CPU congestion.'],
  ['container_pressure_cpu_stalled_seconds_total', 'counter', 'Total time duration no tasks in the container could make progress due to CPU congestion.'],
  ['container_pressure_memory_waiting_seconds_total', 'counter', 'Total time duration tasks in the container have waited due to memory congestion.'],
  ['container_pressure_memory_stalled_seconds_total', 'counter', 'Total time duration no tasks in the container could make progress due to memory congestion.'],
  ['container_pressure_io_waiting_seconds_total', 'counter', 'Total time duration tasks in the container have waited due to IO congestion.'],
  ['container_pressure_io_stalled_seconds_total', 'counter', 'Total time duration no tasks in the container could make progress due to IO congestion.'],
];

const USAGE_FAMILIES: readonly Family[] = [
  ['container_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed in seconds.'],
  ['container_memory_usage_bytes', 'gauge', 'Current memory usage in bytes, including all memory regardless of when it was accessed'],
  ['container_memory_working_set_bytes', 'gauge', 'Current working set in bytes.'],
  ['container_memory_rss', 'gauge', 'Size of RSS in bytes.'],
];

/** A cgroup to read this tick, with the labels of its series. */
interface Target {
  rel: string;
  labels: Record<string, string>;
}

export class CgroupSource implements Source {
  readonly name = 'cgroup';
  readonly targetLabels: Readonly<Record<string, string>>;
  private readonly opts: CgroupSourceOptions;
  private read: FileReader | KeptFileReader | undefined;
  private layout: CgroupLayout | undefined;

  constructor(opts: CgroupSourceOptions) {
    if (opts.mode !== 'kubernetes' && opts.mode !== 'host') throw new KubepulseError('KP_ERR_CGROUP_MODE', `cgroup mode must be "kubernetes" or "host", got ${JSON.stringify(opts.mode)}`);
    if (opts.mode === 'kubernetes' && !opts.podIndex) throw new KubepulseError('KP_ERR_CGROUP_MODE', 'the cgroup source in kubernetes mode needs a pod index to name pods and containers');
    this.opts = opts;
    this.read = opts.readFile;
    this.targetLabels = opts.targetLabels ?? { [LABEL_JOB]: JOB_KUBELET, [LABEL_METRICS_PATH]: METRICS_PATH_CADVISOR };
  }

  /** The detected layout (after the first collect, or now). Throws {@link CgroupLayoutError}. */
  detect(): CgroupLayout {
    this.layout ??= detectCgroupLayout(this.opts.root, this.opts.version);
    return this.layout;
  }

  collect(sink: MetricSink, ctx: CollectContext): void {
    let layout: CgroupLayout;
    try {
      layout = this.detect();
    } catch (err) {
      ctx.reportError('layout', err);
      return;
    }
    this.read ??= this.chooseReader(layout);
    const read = this.read;
    try {
      this.collectWith(layout, read, sink, ctx);
    } finally {
      if ('endTick' in read) read.endTick();
    }
  }

  private chooseReader(layout: CgroupLayout): FileReader {
    const dir = layout.version === 2 ? layout.unified ?? layout.root : layout.cpu ?? layout.memory ?? layout.cpuacct ?? layout.root;
    return this.opts.keepFilesOpen ?? isCgroupFs(dir) ? keepOpenReader() : readCgroupFile;
  }

  private collectWith(layout: CgroupLayout, read: FileReader, sink: MetricSink, ctx: CollectContext): void {
    const host = this.opts.mode === 'host';
    for (const [n, t, h] of FAMILIES) sink.family(n, t, h);
    if (host) for (const [n, t, h] of USAGE_FAMILIES) sink.family(n, t, h);
    const targets = host ? this.hostTargets(layout, ctx) : this.kubeTargets(layout, ctx);
    let vanished = 0;
    let firstVanished = '';
    for (const target of targets) {
      if (ctx.signal.aborted) return;
      let stats: CgroupStats;
      try {
        stats = readCgroupStats(layout, target.rel, read, { usage: host });
      } catch (err) {
        ctx.reportError('read', new Error(`reading cgroup ${target.rel}: ${errorMessage(err)}`, { cause: err }));
        continue;
      }
      if (isEmpty(stats)) {
        // Listed a moment ago, every file gone now: the container exited mid-tick.
        if (!hierarchies(layout).some((h) => existsSync(join(h, target.rel)))) {
          vanished++;
          firstVanished ||= target.rel;
        }
        continue;
      }
      emitStats(sink, target.labels, stats, host);
    }
    if (vanished > 0) {
      ctx.reportError('cgroup_vanished', new Error(`${vanished} cgroup(s) disappeared while being read (first: ${firstVanished}); normal when containers exit, their series go stale`));
    }
  }

  /** Every cgroup under the root, depth-first, the root itself as `/`. */
  private hostTargets(layout: CgroupLayout, ctx: CollectContext): Target[] {
    const max = this.opts.maxCgroups ?? 2000;
    const maxDepth = this.opts.maxDepth ?? 8;
    const seen = new Set<string>(['/']);
    const out: Target[] = [{ rel: '/', labels: { container: '/' } }];
    let truncated = false;
    const walk = (base: string, rel: string, depth: number) => {
      if (depth >= maxDepth) return;
      for (const d of listDirs(join(base, rel))) {
        const childRel = rel === '/' ? `/${d}` : `${rel}/${d}`;
        if (!seen.has(childRel)) {
          if (out.length >= max) {
            truncated = true;
            return;
          }
          seen.add(childRel);
          out.push({ rel: childRel, labels: { container: childRel } });
        }
        walk(base, childRel, depth + 1);
      }
    };
    for (const h of hierarchies(layout)) walk(h, '/', 0);
    if (truncated) ctx.reportError('too_many_cgroups', new Error(`more than ${max} cgroups under ${layout.root}; the rest are not sampled (raise maxCgroups or point --cgroup-root lower)`));
    return out;
  }

  /** Pod and container cgroups under the kubepods tree, named through the pod index. */
  private kubeTargets(layout: CgroupLayout, ctx: CollectContext): Target[] {
    const index = this.opts.podIndex!;
    const out: Target[] = [];
    const seenPods = new Set<string>();
    const unknown: string[] = [];
    const visitPod = (base: string, rel: string, uid: string) => {
      if (seenPods.has(uid)) return;
      seenPods.add(uid);
      const pod = index.pod(uid);
      if (!pod) {
        unknown.push(uid);
        return;
      }
      out.push({ rel, labels: { namespace: pod.namespace, pod: pod.name, container: '', image: '' } });
      for (const d of listDirs(join(base, rel))) {
        const id = containerIdFromDir(d);
        if (!id) continue;
        const ref = index.container(id);
        // The sandbox (pause) container and exited containers are not in the pod's status: cAdvisor's
        // container="" rows for them add nothing the pod row lacks.
        if (!ref || ref.pod.uid !== uid) continue;
        out.push({ rel: `${rel}/${d}`, labels: { namespace: pod.namespace, pod: pod.name, container: ref.container.name, image: ref.container.image } });
      }
    };
    const walk = (base: string, rel: string, depth: number) => {
      if (depth > 4) return;
      for (const d of listDirs(join(base, rel))) {
        const childRel = `${rel === '/' ? '' : rel}/${d}`;
        const uid = podUidFromDir(d);
        if (uid) visitPod(base, childRel, uid);
        // At the top only the kubepods tree (or kind's kubelet.slice around it); below it, QoS levels.
        else if (depth > 0 || isKubepodsDir(d) || d === 'kubelet.slice' || d === 'kubelet') walk(base, childRel, depth + 1);
      }
    };
    // v1 keeps the same tree in each hierarchy: one is enough to enumerate, the reads cover the others.
    const base = layout.version === 2 ? layout.unified ?? layout.root : layout.cpu ?? layout.memory ?? layout.cpuacct!;
    walk(base, '/', 0);
    if (unknown.length > 0 && index.synced()) {
      ctx.reportError('pod_unknown', new Error(`${unknown.length} pod cgroup(s) belong to pods the pod watch does not know (first: uid ${unknown[0]}); skipped this tick. Usually the watch lags a new pod by a tick`));
    }
    return out;
  }
}

function listDirs(dir: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) if (e.isDirectory()) out.push(e.name);
  return out.sort();
}

function isEmpty(s: CgroupStats): boolean {
  for (const k in s) if (s[k as keyof CgroupStats] !== undefined) return false;
  return true;
}

function emitStats(sink: MetricSink, l: Record<string, string>, s: CgroupStats, usage: boolean): void {
  if (usage) {
    put(sink, 'container_cpu_usage_seconds_total', s.cpuSeconds, { ...l, cpu: 'total' });
    put(sink, 'container_memory_usage_bytes', s.memoryUsageBytes, l);
    put(sink, 'container_memory_working_set_bytes', s.memoryWorkingSetBytes, l);
    put(sink, 'container_memory_rss', s.memoryRssBytes, l);
  }
  put(sink, 'container_cpu_cfs_periods_total', s.cfsPeriods, l);
  put(sink, 'container_cpu_cfs_throttled_periods_total', s.cfsThrottledPeriods, l);
  put(sink, 'container_cpu_cfs_throttled_seconds_total', s.cfsThrottledSeconds, l);
  put(sink, 'container_spec_cpu_quota', s.cpuQuotaUs, l);
  put(sink, 'container_spec_cpu_period', s.cpuPeriodUs, l);
  put(sink, 'container_spec_memory_limit_bytes', s.memoryLimitBytes, l);
  put(sink, 'container_memory_cache', s.memoryCacheBytes, l);
  put(sink, 'container_oom_events_total', s.oomKills, l);
  putPsi(sink, 'cpu', s.psiCpu, l);
  putPsi(sink, 'memory', s.psiMemory, l);
  putPsi(sink, 'io', s.psiIo, l);
}

function put(sink: MetricSink, name: string, v: number | undefined, labels: Record<string, string>): void {
  if (v !== undefined && Number.isFinite(v)) sink.add(name, labels, v);
}

const PSI_NAMES = {
  cpu: ['container_pressure_cpu_waiting_seconds_total', 'container_pressure_cpu_stalled_seconds_total'],
  memory: ['container_pressure_memory_waiting_seconds_total', 'container_pressure_memory_stalled_seconds_total'],
  io: ['container_pressure_io_waiting_seconds_total', 'container_pressure_io_stalled_seconds_total'],
} as const;

function putPsi(sink: MetricSink, res: keyof typeof PSI_NAMES, psi: PsiTotals | undefined, l: Record<string, string>): void {
  if (!psi) return;
  if (psi.some !== undefined) put(sink, PSI_NAMES[res][0], psi.some / 1e6, l);
  if (psi.full !== undefined) put(sink, PSI_NAMES[res][1], psi.full / 1e6, l);
}
