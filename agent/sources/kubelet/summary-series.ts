/**
 * Turns one kubelet summary into cAdvisor/kubelet-named series. Pure: no I/O, so the
 * same code runs against the fixtures, the fake kubelet and a real kubelet.
 */
import type { MetricTypeName } from '../../../shared/index.js';
import type { MetricSink } from '../source.js';
import type { PodIndex } from '../../discovery/pod-index.js';
import type { ContainerStats, CpuStats, FsStats, IoStats, MemoryStats, NetworkStats, PodStats, PsiStats, Summary, SwapStats } from './summary-types.js';

/** `metrics_path` of the kubelet's own `/metrics` (volume and log stats live there, not in cAdvisor). */
export const METRICS_PATH_KUBELET = '/metrics';

type Family = readonly [name: string, type: MetricTypeName, help: string];

/** Every family this module may emit, with cAdvisor's / the kubelet's help text. */
export const SUMMARY_FAMILIES: readonly Family[] = [
  ['container_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed in seconds.'],
  ['container_memory_working_set_bytes', 'gauge', 'Current working set in bytes.'],
  ['container_memory_rss', 'gauge', 'Size of RSS in bytes.'],
  ['container_memory_usage_bytes', 'gauge', 'Current memory usage in bytes, including all memory regardless of when it was accessed'],
  ['container_memory_swap', 'gauge', 'Container swap usage in bytes.'],
  ['container_memory_failures_total', 'counter', 'Cumulative count of memory allocation failures.'],
  ['container_network_receive_bytes_total', 'counter', 'Cumulative count of bytes received'],
  ['container_network_receive_errors_total', 'counter', 'Cumulative count of errors encountered while receiving'],
  ['container_network_transmit_bytes_total', 'counter', 'Cumulative count of bytes transmitted'],
  ['container_network_transmit_errors_total', 'counter', 'Cumulative count of errors encountered while transmitting'],
  ['container_fs_usage_bytes', 'gauge', 'Number of bytes that are consumed by the container on this filesystem.'],
  ['container_fs_limit_bytes', 'gauge', 'Number of bytes that can be consumed by the container on this filesystem.'],
  ['container_fs_inodes_free', 'gauge', 'Number of available Inodes'],
  ['container_fs_inodes_total', 'gauge', 'Number of Inodes'],
  ['container_start_time_seconds', 'gauge', 'Start time of the container since unix epoch in seconds.'],
  ['container_pressure_cpu_waiting_seconds_total', 'counter', 'Total time duration tasks in the container have waited due to CPU congestion.'],
  ['container_pressure_cpu_stalled_seconds_total', 'counter', 'Total time duration no tasks in the container could make progress due to CPU congestion.'],
  ['container_pressure_memory_waiting_seconds_total', 'counter', 'Total time duration tasks in the container have waited due to memory congestion.'],
  ['container_pressure_memory_stalled_seconds_total', 'counter', 'Total time duration no tasks in the container could make progress due to memory congestion.'],
  ['container_pressure_io_waiting_seconds_total', 'counter', 'Total time duration tasks in the container have waited due to IO congestion.'],
  ['container_pressure_io_stalled_seconds_total', 'counter', 'Total time duration no tasks in the container could make progress due to IO congestion.'],
  ['kubelet_container_log_filesystem_used_bytes', 'gauge', 'Bytes used by the container\'s logs on the filesystem.'],
  ['kubelet_volume_stats_capacity_bytes', 'gauge', 'Capacity in bytes of the volume'],
  ['kubelet_volume_stats_available_bytes', 'gauge', 'Number of available bytes in the volume'],
  ['kubelet_volume_stats_used_bytes', 'gauge', 'Number of used bytes in the volume'],
  ['kubelet_volume_stats_inodes', 'gauge', 'Maximum number of inodes in the volume'],
  ['kubelet_volume_stats_inodes_free', 'gauge', 'Number of free inodes in the volume'],
  ['kubelet_volume_stats_inodes_used', 'gauge', 'Number of used inodes in the volume'],
];

export interface SummaryEmitOptions {
  /** Names pods and containers (and gives `image`); without it, names come from `podRef`. */
  podIndex?: PodIndex;
  /**
   * Also emit `container_pressure_*` from the summary's `psi` blocks (kubelet 1.34+).
   * Off by default because the cgroup source reads PSI itself; turn it on when no cgroup
   * source runs, or the same series would come from two sources.
   */
  pressure?: boolean;
  /** Also emit the node's root-cgroup series (`id="/"`), as cAdvisor does. Default true. */
  node?: boolean;
  /** Keeps each pod's and container's label objects from one summary to the next. */
  labels?: SummaryLabelCache;
}

/**
 * The label objects of one pod or container row and its variants (`cpu="total"`,
 * `failure_type`, `interface`, the log row), each built on first use. Kept between
 * ticks by a {@link SummaryLabelCache}, a row hands the sink the same objects, with the
 * same strings, every tick: nothing to allocate, and the sampler's lookups hit at once.
 */
export class RowLabels {
  readonly base: Readonly<Record<string, string>>;
  private cpuL: Record<string, string> | undefined;
  private faults: [Record<string, string>, Record<string, string>] | undefined;
  private ifaces: Map<string, Record<string, string>> | undefined;
  private logsL: Record<string, string> | undefined;
  /** Tick of the cache that last used it. */
  gen = 0;

  constructor(base: Record<string, string>) {
    this.base = base;
  }

  cpu(): Record<string, string> {
    return (this.cpuL ??= { ...this.base, cpu: 'total' });
  }

  /** `pgfault` (0) and `pgmajfault` (1). */
  fault(major: 0 | 1): Record<string, string> {
    this.faults ??= [
      { ...this.base, failure_type: 'pgfault', scope: 'container' },
      { ...this.base, failure_type: 'pgmajfault', scope: 'container' },
    ];
    return this.faults[major];
  }

  iface(name: string): Record<string, string> {
    this.ifaces ??= new Map();
    let l = this.ifaces.get(name);
    if (!l) this.ifaces.set(name, (l = { ...this.base, interface: name }));
    return l;
  }

  logs(): Record<string, string> {
    const b = this.base;
    return (this.logsL ??= { namespace: b.namespace, pod: b.pod, container: b.container, metrics_path: METRICS_PATH_KUBELET });
  }
}

/**
 * {@link RowLabels} by pod UID and container name, across ticks. Rows not seen in a
 * summary are dropped after it; a row whose names or image changed is rebuilt.
 */
export class SummaryLabelCache {
  private readonly rows = new Map<string, RowLabels>();
  private gen = 0;

  /** Starts a summary. */
  begin(): void {
    this.gen++;
  }

  row(uid: string, container: string | undefined, base: Record<string, string>): RowLabels {
    const key = container === undefined ? uid : `${uid}\x00${container}`;
    let r = this.rows.get(key);
    if (!r || !sameLabels(r.base, base)) this.rows.set(key, (r = new RowLabels(base)));
    r.gen = this.gen;
    return r;
  }

  /** Ends a summary: forgets rows it did not have. */
  end(): void {
    for (const [k, r] of this.rows) if (r.gen !== this.gen) this.rows.delete(k);
  }

  get size(): number {
    return this.rows.size;
  }
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  for (const k in b) if (a[k] !== b[k]) return false;
  return true;
}

/** What one summary contained, for the source's logging and self-metrics. */
export interface SummaryEmitResult {
  pods: number;
  containers: number;
  /** UIDs of pods the (synced) index does not know; they were named from `podRef`. */
  unknownPods: string[];
}

const NS_PER_S = 1e9;
const US_PER_S = 1e6;

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function epochSeconds(iso: string | undefined): number | undefined {
  if (typeof iso !== 'string') return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/** Emits every series of `summary` into `sink`. Throws only on a summary that is not an object. */
export function emitSummary(summary: Summary, sink: MetricSink, opts: SummaryEmitOptions = {}): SummaryEmitResult {
  if (summary === null || typeof summary !== 'object' || Array.isArray(summary)) {
    throw new TypeError('kubelet summary is not a JSON object');
  }
  if (summary.pods !== undefined && !Array.isArray(summary.pods)) throw new TypeError('kubelet summary: "pods" is not an array');
  for (const [name, type, help] of SUMMARY_FAMILIES) sink.family(name, type, help);
  const put = (name: string, labels: Readonly<Record<string, string>>, v: number | undefined) => {
    if (v !== undefined) sink.add(name, labels, v);
  };
  const result: SummaryEmitResult = { pods: 0, containers: 0, unknownPods: [] };

  const cache = opts.labels;
  cache?.begin();
  if (opts.node !== false && summary.node && typeof summary.node === 'object') {
    const l = cache ? cache.row('', '/', { id: '/' }) : new RowLabels({ id: '/' });
    emitCpu(put, l, summary.node.cpu, opts.pressure === true);
    emitMemory(put, l, summary.node.memory, opts.pressure === true);
    emitSwap(put, l.base, summary.node.swap);
  }

  const index = opts.podIndex;
  for (const pod of summary.pods ?? []) {
    if (!pod || typeof pod !== 'object') continue;
    const ref = pod.podRef ?? {};
    const uid = typeof ref.uid === 'string' ? ref.uid : '';
    const known = uid && index ? index.pod(uid) : undefined;
    if (index && index.synced() && !known && uid) result.unknownPods.push(uid);
    const namespace = known?.namespace ?? (typeof ref.namespace === 'string' ? ref.namespace : '');
    const podName = known?.name ?? (typeof ref.name === 'string' ? ref.name : '');
    if (!namespace || !podName) continue;
    result.pods++;
    const podBase = { namespace, pod: podName, container: '', image: '' };
    emitPod(put, cache && uid ? cache.row(uid, undefined, podBase) : new RowLabels(podBase), pod, opts.pressure === true);
    for (const c of pod.containers ?? []) {
      if (!c || typeof c !== 'object' || typeof c.name !== 'string') continue;
      const image = known?.containers.find((k) => k.name === c.name)?.image ?? '';
      result.containers++;
      const base = { namespace, pod: podName, container: c.name, image };
      emitContainer(put, cache && uid ? cache.row(uid, c.name, base) : new RowLabels(base), c, opts.pressure === true);
    }
  }
  cache?.end();
  return result;
}

type Put = (name: string, labels: Readonly<Record<string, string>>, v: number | undefined) => void;

function emitCpu(put: Put, r: RowLabels, cpu: CpuStats | undefined, pressure: boolean): void {
  if (!cpu) return;
  const ns = num(cpu.usageCoreNanoSeconds);
  // cAdvisor puts cpu="total" on the non-per-CPU usage series; dashboards sum over it anyway.
  if (ns !== undefined) put('container_cpu_usage_seconds_total', r.cpu(), ns / NS_PER_S);
  if (pressure) emitPsi(put, r.base, 'cpu', cpu.psi);
}

function emitMemory(put: Put, r: RowLabels, mem: MemoryStats | undefined, pressure: boolean): void {
  if (!mem) return;
  const l = r.base;
  put('container_memory_working_set_bytes', l, num(mem.workingSetBytes));
  put('container_memory_rss', l, num(mem.rssBytes));
  put('container_memory_usage_bytes', l, num(mem.usageBytes));
  const minor = num(mem.pageFaults);
  if (minor !== undefined) put('container_memory_failures_total', r.fault(0), minor);
  const major = num(mem.majorPageFaults);
  if (major !== undefined) put('container_memory_failures_total', r.fault(1), major);
  if (pressure) emitPsi(put, l, 'memory', mem.psi);
}

function emitIo(put: Put, l: Readonly<Record<string, string>>, io: IoStats | undefined, pressure: boolean): void {
  if (io && pressure) emitPsi(put, l, 'io', io.psi);
}

function emitSwap(put: Put, l: Readonly<Record<string, string>>, swap: SwapStats | undefined): void {
  if (swap) put('container_memory_swap', l, num(swap.swapUsageBytes));
}

function emitPsi(put: Put, l: Readonly<Record<string, string>>, resource: 'cpu' | 'memory' | 'io', psi: PsiStats | undefined): void {
  if (!psi) return;
  const some = num(psi.some?.total);
  const full = num(psi.full?.total);
  put(`container_pressure_${resource}_waiting_seconds_total`, l, some === undefined ? undefined : some / US_PER_S);
  put(`container_pressure_${resource}_stalled_seconds_total`, l, full === undefined ? undefined : full / US_PER_S);
}

function emitFs(put: Put, l: Readonly<Record<string, string>>, fs: FsStats | undefined): void {
  if (!fs) return;
  put('container_fs_usage_bytes', l, num(fs.usedBytes));
  put('container_fs_limit_bytes', l, num(fs.capacityBytes));
  put('container_fs_inodes_free', l, num(fs.inodesFree));
  put('container_fs_inodes_total', l, num(fs.inodes));
}

function emitNetwork(put: Put, r: RowLabels, net: NetworkStats | undefined): void {
  if (!net) return;
  // Older kubelets give only the default interface at the top level.
  const ifaces = Array.isArray(net.interfaces) && net.interfaces.length > 0 ? net.interfaces : net.name ? [net] : [];
  for (const i of ifaces) {
    if (!i || typeof i.name !== 'string') continue;
    const il = r.iface(i.name);
    put('container_network_receive_bytes_total', il, num(i.rxBytes));
    put('container_network_receive_errors_total', il, num(i.rxErrors));
    put('container_network_transmit_bytes_total', il, num(i.txBytes));
    put('container_network_transmit_errors_total', il, num(i.txErrors));
  }
}

function emitPod(put: Put, r: RowLabels, pod: PodStats, pressure: boolean): void {
  const l = r.base;
  emitCpu(put, r, pod.cpu, pressure);
  emitMemory(put, r, pod.memory, pressure);
  emitIo(put, l, pod.io, pressure);
  emitSwap(put, l, pod.swap);
  emitNetwork(put, r, pod.network);
  // The pod's ephemeral storage (all containers' writable layers, logs and emptyDirs) is
  // the pod-level fs usage, as cAdvisor's container="" row is the pod cgroup.
  emitFs(put, l, pod['ephemeral-storage']);
  put('container_start_time_seconds', l, epochSeconds(pod.startTime));
  for (const v of Array.isArray(pod.volume) ? pod.volume : []) {
    const pvc = v?.pvcRef;
    if (!pvc || typeof pvc.name !== 'string') continue;
    // The kubelet's own /metrics labels: namespace and persistentvolumeclaim only.
    const vl = { namespace: typeof pvc.namespace === 'string' ? pvc.namespace : l.namespace, persistentvolumeclaim: pvc.name, metrics_path: METRICS_PATH_KUBELET };
    put('kubelet_volume_stats_capacity_bytes', vl, num(v.capacityBytes));
    put('kubelet_volume_stats_available_bytes', vl, num(v.availableBytes));
    put('kubelet_volume_stats_used_bytes', vl, num(v.usedBytes));
    put('kubelet_volume_stats_inodes', vl, num(v.inodes));
    put('kubelet_volume_stats_inodes_free', vl, num(v.inodesFree));
    put('kubelet_volume_stats_inodes_used', vl, num(v.inodesUsed));
  }
}

function emitContainer(put: Put, r: RowLabels, c: ContainerStats, pressure: boolean): void {
  const l = r.base;
  emitCpu(put, r, c.cpu, pressure);
  emitMemory(put, r, c.memory, pressure);
  emitIo(put, l, c.io, pressure);
  emitSwap(put, l, c.swap);
  emitFs(put, l, c.rootfs);
  put('container_start_time_seconds', l, epochSeconds(c.startTime));
  if (c.logs) {
    const used = num(c.logs.usedBytes);
    if (used !== undefined) put('kubelet_container_log_filesystem_used_bytes', r.logs(), used);
  }
}
