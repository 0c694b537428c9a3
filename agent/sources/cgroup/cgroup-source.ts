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
  /** File reader, for tests and benchmarks that count reads. */
  readFile?: FileReader;
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
  private readonly read: FileReader;
  private layout: CgroupLayout | undefined;

  constructor(opts: CgroupSourceOptions) {
    if (opts.mode !== 'kubernetes' && opts.mode !== 'host') throw new KubepulseError('KP_ERR_CGROUP_MODE', `cgroup mode must be "kubernetes" or "host", got ${JSON.stringify(opts.mode)}`);
    if (opts.mode === 'kubernetes' && !opts.podIndex) throw new KubepulseError('KP_ERR_CGROUP_MODE', 'the cgroup source in kubernetes mode needs a pod index to name pods and containers');
    this.opts = opts;
    this.read = opts.readFile ?? readCgroupFile;
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
        stats = readCgroupStats(layout, target.rel, this.read, { usage: host });
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
  const put = (name: string, v: number | undefined, labels: Record<string, string> = l) => {
    if (v !== undefined && Number.isFinite(v)) sink.add(name, labels, v);
  };
  if (usage) {
    put('container_cpu_usage_seconds_total', s.cpuSeconds, { ...l, cpu: 'total' });
    put('container_memory_usage_bytes', s.memoryUsageBytes);
    put('container_memory_working_set_bytes', s.memoryWorkingSetBytes);
    put('container_memory_rss', s.memoryRssBytes);
  }
  put('container_cpu_cfs_periods_total', s.cfsPeriods);
  put('container_cpu_cfs_throttled_periods_total', s.cfsThrottledPeriods);
  put('container_cpu_cfs_throttled_seconds_total', s.cfsThrottledSeconds);
  put('container_spec_cpu_quota', s.cpuQuotaUs);
  put('container_spec_cpu_period', s.cpuPeriodUs);
  put('container_spec_memory_limit_bytes', s.memoryLimitBytes);
  put('container_memory_cache', s.memoryCacheBytes);
  put('container_oom_events_total', s.oomKills);
  for (const [res, psi] of [['cpu', s.psiCpu], ['memory', s.psiMemory], ['io', s.psiIo]] as const) {
    if (!psi) continue;
    put(`container_pressure_${res}_waiting_seconds_total`, psi.some === undefined ? undefined : psi.some / 1e6);
    put(`container_pressure_${res}_stalled_seconds_total`, psi.full === undefined ? undefined : psi.full / 1e6);
  }
}
