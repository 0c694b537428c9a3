/**
 * The TSDB benchmark's data: realistic node, cAdvisor and kube-state series with value
 * patterns of their kind, 10 s apart with a few ms of per-node jitter. Deterministic for
 * a seed, so the same stream can be pushed to two stores.
 */
import type { Labels } from '../../shared/index.js';
import { labelsFromObject } from '../../shared/index.js';
import { rng } from './helpers.js';

export const STEP = 10_000;


export type Kind = 'float_counter' | 'cents_counter' | 'int_counter' | 'rare_counter' | 'mem_gauge' | 'constant';
export interface Gen {
  labels: Labels;
  kind: Kind;
  node: number;
  v: number;
  rate: number;
}

/** Node series (per-CPU modes, memory) and per pod cAdvisor + kube-state series, as a cluster has them. */
export function makeSeries(n: number, seed: number): Gen[] {
  const r = rng(seed);
  const out: Gen[] = [];
  const base = { cluster: 'default' };
  const nodes = Math.max(1, Math.round(n / 1000));
  for (let node = 0; node < nodes && out.length < n; node++) {
    const nodeName = `node-${node}`;
    const nodeLabels = { ...base, job: 'node-exporter', instance: `${nodeName}:9100`, node: nodeName };
    for (let cpu = 0; cpu < 8; cpu++) {
      for (const mode of ['idle', 'iowait', 'irq', 'nice', 'softirq', 'steal', 'system', 'user']) {
        out.push({ labels: labelsFromObject({ ...nodeLabels, __name__: 'node_cpu_seconds_total', cpu: String(cpu), mode }), kind: 'cents_counter', node, v: r() * 1e6, rate: mode === 'idle' ? 0.7 : r() * 0.1 });
      }
    }
    for (const m of ['MemAvailable_bytes', 'MemFree_bytes', 'Cached_bytes', 'Buffers_bytes']) {
      out.push({ labels: labelsFromObject({ ...nodeLabels, __name__: `node_memory_${m}` }), kind: 'mem_gauge', node, v: 4096 * Math.floor(r() * 4e6), rate: 0 });
    }
  }
  for (let pod = 0; out.length < n; pod++) {
    const node = pod % nodes;
    const ns = `ns-${pod % 40}`;
    const podName = `app-${pod}-${Math.floor(r() * 1e5).toString(36)}`;
    const c = { ...base, job: 'kubelet', metrics_path: '/metrics/cadvisor', instance: `node-${node}:10250`, node: `node-${node}`, namespace: ns, pod: podName, container: 'app' };
    const ksm = { ...base, job: 'kube-state-metrics', instance: 'kube-state-metrics:8080', namespace: ns, pod: podName };
    const idle = r() < 0.2;
    const add = (labels: Record<string, string>, kind: Kind, v: number, rate: number) => {
      if (out.length < n) out.push({ labels: labelsFromObject(labels), kind, node, v, rate });
    };
    add({ ...c, __name__: 'container_cpu_usage_seconds_total' }, 'float_counter', r() * 1e4, idle ? 0.001 : r() * 2);
    add({ ...c, __name__: 'container_memory_working_set_bytes' }, 'mem_gauge', 4096 * Math.floor(r() * 5e5), 0);
    add({ ...c, __name__: 'container_network_receive_bytes_total', interface: 'eth0' }, 'int_counter', Math.floor(r() * 1e9), idle ? 0 : r() * 1e6);
    add({ ...c, __name__: 'container_fs_reads_total', device: '/dev/sda' }, 'rare_counter', Math.floor(r() * 1e4), 0.1);
    add({ ...c, __name__: 'container_cpu_cfs_throttled_periods_total' }, 'rare_counter', Math.floor(r() * 100), 0.05);
    add({ ...c, __name__: 'container_spec_memory_limit_bytes' }, 'constant', 2 ** 30, 0);
    for (const phase of ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']) add({ ...ksm, __name__: 'kube_pod_status_phase', phase }, 'constant', phase === 'Running' ? 1 : 0, 0);
    add({ ...ksm, __name__: 'kube_pod_container_status_restarts_total', container: 'app' }, 'constant', Math.floor(r() * 3), 0);
  }
  return out;
}

/** Advances every series by one tick; deterministic for a seed. */
export function tick(gens: Gen[], r: () => number): void {
  for (const g of gens) {
    switch (g.kind) {
      case 'float_counter':
        g.v += g.rate * 10 * (0.8 + 0.4 * r());
        break;
      case 'cents_counter':
        g.v = Math.round((g.v + g.rate * 10 * (0.8 + 0.4 * r())) * 100) / 100;
        break;
      case 'int_counter':
        g.v += Math.floor(r() * g.rate * 10);
        break;
      case 'rare_counter':
        if (r() < g.rate) g.v += 1 + Math.floor(r() * 20);
        break;
      case 'mem_gauge':
        if (r() < 0.5) g.v = Math.max(0, g.v + 4096 * Math.floor((r() - 0.5) * 100));
        break;
      case 'constant':
        break;
    }
  }
}

/** Timestamp of tick `k` for a node: the tick plus a few ms of per-node jitter. */
export const tickTime = (t0: number, k: number, node: number) => t0 + k * STEP + ((node * 7 + k * 13) % 5);

