/**
 * `kube_node_*` and `kube_namespace_*` series, with kube-state-metrics' names, labels
 * and semantics (internal/store/node.go, namespace.go).
 */
import {
  SampleList,
  allowlisted,
  conditionTriple,
  epochSeconds,
  parseQuantity,
  resourceLabels,
  type KsmOptions,
  type KsmSample,
  type Obj,
} from './common.js';

const ROLE_PREFIX = 'node-role.kubernetes.io/';

/** Every kube-state-metrics node series of `n`. */
export function nodeSamples(n: Obj, opts: KsmOptions = {}): KsmSample[] {
  const s = new SampleList();
  const md = n.metadata ?? {};
  const st = n.status ?? {};
  const info = st.nodeInfo ?? {};
  const base = { node: md.name ?? '' };
  const internalIp = ((st.addresses ?? []) as Obj[]).find((a) => a.type === 'InternalIP')?.address ?? '';
  s.add('kube_node_info', {
    ...base,
    kernel_version: info.kernelVersion ?? '',
    os_image: info.osImage ?? '',
    container_runtime_version: info.containerRuntimeVersion ?? '',
    kubelet_version: info.kubeletVersion ?? '',
    // kube-state-metrics 2.19 reports the field (deprecated since Kubernetes 1.31) as this constant.
    kubeproxy_version: 'deprecated',
    provider_id: n.spec?.providerID ?? '',
    pod_cidr: n.spec?.podCIDR ?? '',
    system_uuid: info.systemUUID ?? '',
    internal_ip: internalIp,
  }, 1);
  s.add('kube_node_created', base, epochSeconds(md.creationTimestamp));
  // kube-state-metrics 2.19 emits these two only when an allow-list for nodes is set.
  if (opts.labelsAllowlist?.nodes) s.add('kube_node_labels', { ...base, ...allowlisted(md.labels, opts.labelsAllowlist.nodes, 'label') }, 1);
  if (opts.annotationsAllowlist?.nodes) s.add('kube_node_annotations', { ...base, ...allowlisted(md.annotations, opts.annotationsAllowlist.nodes, 'annotation') }, 1);
  for (const k of Object.keys(md.labels ?? {})) {
    if (k.startsWith(ROLE_PREFIX) && k.length > ROLE_PREFIX.length) s.add('kube_node_role', { ...base, role: k.slice(ROLE_PREFIX.length) }, 1);
  }
  s.add('kube_node_spec_unschedulable', base, n.spec?.unschedulable === true ? 1 : 0);
  for (const t of (n.spec?.taints ?? []) as Obj[]) {
    s.add('kube_node_spec_taint', { ...base, key: t.key ?? '', value: t.value ?? '', effect: t.effect ?? '' }, 1);
  }
  for (const a of (st.addresses ?? []) as Obj[]) s.add('kube_node_status_addresses', { ...base, type: a.type ?? '', address: a.address ?? '' }, 1);
  for (const c of (st.conditions ?? []) as Obj[]) {
    for (const [status, v] of conditionTriple(c.status)) s.add('kube_node_status_condition', { ...base, condition: c.type ?? '', status }, v);
  }
  for (const [family, rl] of [
    ['kube_node_status_capacity', st.capacity],
    ['kube_node_status_allocatable', st.allocatable],
  ] as const) {
    for (const [res, q] of Object.entries((rl ?? {}) as Record<string, unknown>)) {
      const v = parseQuantity(q);
      s.add(family, { ...base, ...resourceLabels(res) }, res === 'cpu' ? Math.ceil(v * 1000) / 1000 : Math.ceil(v));
    }
  }
  return s.out;
}

/** Every kube-state-metrics namespace series of `ns`. */
export function namespaceSamples(ns: Obj, opts: KsmOptions = {}): KsmSample[] {
  const s = new SampleList();
  const md = ns.metadata ?? {};
  const base = { namespace: md.name ?? '' };
  s.add('kube_namespace_created', base, epochSeconds(md.creationTimestamp));
  s.add('kube_namespace_labels', { ...base, ...allowlisted(md.labels, opts.labelsAllowlist?.namespaces, 'label') }, 1);
  s.add('kube_namespace_annotations', { ...base, ...allowlisted(md.annotations, opts.annotationsAllowlist?.namespaces, 'annotation') }, 1);
  const phase = ns.status?.phase;
  if (phase) for (const p of ['Active', 'Terminating']) s.add('kube_namespace_status_phase', { ...base, phase: p }, phase === p ? 1 : 0);
  for (const c of (ns.status?.conditions ?? []) as Obj[]) {
    for (const [status, v] of conditionTriple(c.status)) s.add('kube_namespace_status_condition', { ...base, condition: c.type ?? '', status }, v);
  }
  return s.out;
}
