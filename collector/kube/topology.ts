/**
 * The cluster map: cluster → nodes → pods (with their owning workload) → containers,
 * each with requests, limits, status and current use. Current use comes from stored
 * series (what the agents push): CPU is the rate of `container_cpu_usage_seconds_total`
 * over the last `windowMs` (counter resets handled), memory the newest
 * `container_memory_working_set_bytes`, both matched on namespace/pod/container and on
 * `cluster` equal to ours or absent. Nodes and pods sum their containers.
 */
import { getLabel, isStaleNaN } from '../../shared/index.js';
import type { Matcher, Queryable } from '../storage/interface.js';
import { controllerOf, parseQuantity, type Obj } from './ksm/index.js';

export interface Resources {
  cpu: number;
  memory: number;
}
export interface Usage {
  /** CPU cores in use; null when no samples. */
  cpu: number | null;
  /** Working-set bytes; null when no samples. */
  memory: number | null;
}
export interface TopoContainer {
  name: string;
  image: string;
  ready: boolean;
  restarts: number;
  state: 'running' | 'waiting' | 'terminated' | 'unknown';
  reason: string;
  requests: Resources;
  limits: Resources;
  usage: Usage;
}
export interface TopoPod {
  namespace: string;
  name: string;
  uid: string;
  phase: string;
  /** The controlling workload, resolved through ReplicaSets to Deployments and Jobs to CronJobs. */
  workload: { kind: string; name: string } | null;
  requests: Resources;
  limits: Resources;
  usage: Usage;
  containers: TopoContainer[];
}
export interface TopoNode {
  name: string;
  ready: string;
  unschedulable: boolean;
  allocatable: Resources;
  requests: Resources;
  limits: Resources;
  usage: Usage;
  pods: TopoPod[];
}
export interface Topology {
  cluster: string;
  nodes: TopoNode[];
  /** Pods not bound to a node (pending), in the `""` node's place. */
  unscheduled: TopoPod[];
}

export interface TopologyInput {
  cluster: string;
  nodes: readonly Obj[];
  pods: readonly Obj[];
  replicaSets: readonly Obj[];
  jobs: readonly Obj[];
  usage: ReadonlyMap<string, Usage>;
  namespace?: string;
  node?: string;
}

const zero = (): Resources => ({ cpu: 0, memory: 0 });
const add = (a: Resources, b: Resources) => {
  a.cpu += b.cpu;
  a.memory += b.memory;
};
const addUsage = (a: Usage, b: Usage) => {
  if (b.cpu !== null) a.cpu = (a.cpu ?? 0) + b.cpu;
  if (b.memory !== null) a.memory = (a.memory ?? 0) + b.memory;
};
const res = (rl: Obj): Resources => ({ cpu: parseQuantity(rl?.cpu) || 0, memory: parseQuantity(rl?.memory) || 0 });

/** `namespace/pod/container`, the key of {@link readContainerUsage}'s map. */
export const usageKey = (ns: string, pod: string, container: string) => `${ns}/${pod}/${container}`;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Current use of every container with samples in (now - windowMs, now]. */
export function readContainerUsage(q: Queryable, now: number, cluster: string, windowMs = 300_000): Map<string, Usage> {
  const out = new Map<string, Usage>();
  const querier = q.querier(now - windowMs, now);
  const base = (name: string): Matcher[] => [
    { type: '=', name: '__name__', value: name },
    { type: '!=', name: 'container', value: '' },
    { type: '!=', name: 'container', value: 'POD' },
    { type: '=~', name: 'cluster', value: `${escapeRegex(cluster)}|` },
  ];
  const get = (k: string) => {
    let u = out.get(k);
    if (!u) out.set(k, (u = { cpu: null, memory: null }));
    return u;
  };
  try {
    for (const s of querier.select(base('container_cpu_usage_seconds_total'))) {
      let inc = 0;
      let t0 = NaN;
      let t1 = NaN;
      let prev = NaN;
      for (let i = 0; i < s.t.length; i++) {
        const v = s.v[i];
        if (isStaleNaN(v) || Number.isNaN(v)) continue;
        if (Number.isNaN(t0)) t0 = s.t[i];
        else inc += v >= prev ? v - prev : v; // a reset restarts from 0
        prev = v;
        t1 = s.t[i];
      }
      if (!(t1 > t0)) continue;
      const u = get(usageKey(getLabel(s.labels, 'namespace'), getLabel(s.labels, 'pod'), getLabel(s.labels, 'container')));
      u.cpu = (u.cpu ?? 0) + inc / ((t1 - t0) / 1000);
    }
    for (const s of querier.select(base('container_memory_working_set_bytes'))) {
      for (let i = s.t.length - 1; i >= 0; i--) {
        const v = s.v[i];
        if (isStaleNaN(v) || Number.isNaN(v)) continue;
        const u = get(usageKey(getLabel(s.labels, 'namespace'), getLabel(s.labels, 'pod'), getLabel(s.labels, 'container')));
        u.memory = (u.memory ?? 0) + v;
        break;
      }
    }
  } finally {
    querier.close();
  }
  return out;
}

/** Builds the topology from cached objects and the usage map; see the module comment. */
export function buildTopology(inp: TopologyInput): Topology {
  const rsOwner = new Map<string, { kind: string; name: string } | undefined>();
  for (const rs of inp.replicaSets) rsOwner.set(`${rs.metadata?.namespace}/${rs.metadata?.name}`, controllerOf(rs));
  const jobOwner = new Map<string, { kind: string; name: string } | undefined>();
  for (const j of inp.jobs) jobOwner.set(`${j.metadata?.namespace}/${j.metadata?.name}`, controllerOf(j));

  const nodes = new Map<string, TopoNode>();
  for (const n of inp.nodes) {
    const name = n.metadata?.name ?? '';
    if (inp.node && inp.node !== name) continue;
    const ready = ((n.status?.conditions ?? []) as Obj[]).find((c) => c.type === 'Ready')?.status ?? 'Unknown';
    nodes.set(name, {
      name,
      ready,
      unschedulable: n.spec?.unschedulable === true,
      allocatable: res(n.status?.allocatable),
      requests: zero(),
      limits: zero(),
      usage: { cpu: null, memory: null },
      pods: [],
    });
  }
  const unscheduled: TopoPod[] = [];
  for (const p of inp.pods) {
    const ns = p.metadata?.namespace ?? '';
    if (inp.namespace && inp.namespace !== ns) continue;
    const nodeName = p.spec?.nodeName ?? '';
    if (inp.node && inp.node !== nodeName) continue;
    let workload = controllerOf(p) ?? null;
    if (workload?.kind === 'ReplicaSet') workload = rsOwner.get(`${ns}/${workload.name}`) ?? workload;
    else if (workload?.kind === 'Job') workload = jobOwner.get(`${ns}/${workload.name}`) ?? workload;
    const statuses = new Map<string, Obj>();
    for (const cs of (p.status?.containerStatuses ?? []) as Obj[]) statuses.set(cs.name, cs);
    const pod: TopoPod = {
      namespace: ns,
      name: p.metadata?.name ?? '',
      uid: p.metadata?.uid ?? '',
      phase: p.status?.phase ?? '',
      workload,
      requests: zero(),
      limits: zero(),
      usage: { cpu: null, memory: null },
      containers: [],
    };
    for (const c of (p.spec?.containers ?? []) as Obj[]) {
      const cs = statuses.get(c.name);
      const st = cs?.state ?? {};
      const c2: TopoContainer = {
        name: c.name,
        image: c.image ?? '',
        ready: cs?.ready === true,
        restarts: cs?.restartCount ?? 0,
        state: st.running ? 'running' : st.waiting ? 'waiting' : st.terminated ? 'terminated' : 'unknown',
        reason: st.waiting?.reason ?? st.terminated?.reason ?? '',
        requests: res(c.resources?.requests),
        limits: res(c.resources?.limits),
        usage: { ...(inp.usage.get(usageKey(ns, pod.name, c.name)) ?? { cpu: null, memory: null }) },
      };
      add(pod.requests, c2.requests);
      add(pod.limits, c2.limits);
      addUsage(pod.usage, c2.usage);
      pod.containers.push(c2);
    }
    const node = nodes.get(nodeName);
    if (node) {
      node.pods.push(pod);
      add(node.requests, pod.requests);
      add(node.limits, pod.limits);
      addUsage(node.usage, pod.usage);
    } else if (nodeName === '') unscheduled.push(pod);
  }
  const sorted = [...nodes.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const n of sorted) n.pods.sort((a, b) => (a.namespace + '/' + a.name < b.namespace + '/' + b.name ? -1 : 1));
  return { cluster: inp.cluster, nodes: sorted, unscheduled };
}
