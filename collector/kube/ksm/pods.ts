/**
 * `kube_pod_*` and `kube_pod_container_*` series of one Pod, with kube-state-metrics'
 * names, labels and semantics (internal/store/pod.go of kube-state-metrics 2.x).
 */
import {
  SampleList,
  allowlisted,
  conditionTriple,
  controllerOf,
  epochSeconds,
  num,
  parseQuantity,
  resourceLabels,
  type KsmOptions,
  type KsmSample,
  type Obj,
} from './common.js';

const PHASES = ['Pending', 'Succeeded', 'Failed', 'Unknown', 'Running'] as const;
/** kube-state-metrics 2.19's list; 2.13 had only the first five. */
export const POD_STATUS_REASONS = [
  'Evicted',
  'NodeAffinity',
  'NodeLost',
  'Shutdown',
  'UnexpectedAdmissionError',
  'PreemptionByScheduler',
  'SchedulingGated',
  'TerminationByKubelet',
] as const;
const QOS = ['BestEffort', 'Burstable', 'Guaranteed'] as const;

function statusReasonValue(p: Obj, reason: string): number {
  if (p.status?.reason === reason) return 1;
  for (const c of (p.status?.conditions ?? []) as Obj[]) if (c.reason === reason) return 1;
  for (const cs of (p.status?.containerStatuses ?? []) as Obj[]) if (cs.state?.terminated?.reason === reason) return 1;
  return 0;
}

/** Every kube-state-metrics pod series of `p`. */
export function podSamples(p: Obj, opts: KsmOptions = {}): KsmSample[] {
  const s = new SampleList();
  const md = p.metadata ?? {};
  const spec = p.spec ?? {};
  const st = p.status ?? {};
  const base = { namespace: md.namespace ?? '', pod: md.name ?? '', uid: md.uid ?? '' };
  const ctrl = controllerOf(p);

  s.add('kube_pod_info', {
    ...base,
    host_ip: st.hostIP ?? '',
    pod_ip: st.podIP ?? '',
    node: spec.nodeName ?? '',
    created_by_kind: ctrl?.kind ?? '',
    created_by_name: ctrl?.name ?? '',
    priority_class: spec.priorityClassName ?? '',
    host_network: spec.hostNetwork === true ? 'true' : 'false',
  }, 1);
  const owners = (md.ownerReferences ?? []) as Obj[];
  if (owners.length === 0) s.add('kube_pod_owner', { ...base, owner_kind: '', owner_name: '', owner_is_controller: '' }, 1);
  for (const o of owners) {
    s.add('kube_pod_owner', { ...base, owner_kind: o.kind ?? '', owner_name: o.name ?? '', owner_is_controller: o.controller === true ? 'true' : 'false' }, 1);
  }
  s.add('kube_pod_labels', { ...base, ...allowlisted(md.labels, opts.labelsAllowlist?.pods, 'label') }, 1);
  s.add('kube_pod_annotations', { ...base, ...allowlisted(md.annotations, opts.annotationsAllowlist?.pods, 'annotation') }, 1);
  s.add('kube_pod_created', base, epochSeconds(md.creationTimestamp));
  s.add('kube_pod_start_time', base, epochSeconds(st.startTime));
  let lastFinish = 0;
  for (const cs of (st.containerStatuses ?? []) as Obj[]) {
    const f = epochSeconds(cs.state?.terminated?.finishedAt);
    if (f !== undefined && f > lastFinish) lastFinish = f;
  }
  if (lastFinish > 0) s.add('kube_pod_completion_time', base, lastFinish);
  if (md.deletionTimestamp) s.add('kube_pod_deletion_timestamp', base, epochSeconds(md.deletionTimestamp));
  if (spec.restartPolicy) s.add('kube_pod_restart_policy', { ...base, type: spec.restartPolicy }, 1);
  s.add('kube_pod_service_account', { ...base, service_account: spec.serviceAccountName ?? '' }, 1);
  if (spec.schedulerName) s.add('kube_pod_scheduler', { ...base, name: spec.schedulerName }, 1);
  for (const t of (spec.tolerations ?? []) as Obj[]) {
    s.add('kube_pod_tolerations', {
      ...base,
      key: t.key ?? '',
      operator: t.operator ?? '',
      value: t.value ?? '',
      effect: t.effect ?? '',
      toleration_seconds: t.tolerationSeconds === undefined || t.tolerationSeconds === null ? '' : String(t.tolerationSeconds),
    }, 1);
  }

  if (st.phase) for (const ph of PHASES) s.add('kube_pod_status_phase', { ...base, phase: ph }, st.phase === ph ? 1 : 0);
  for (const c of (st.conditions ?? []) as Obj[]) {
    if (c.type === 'Ready') {
      for (const [cond, v] of conditionTriple(c.status)) s.add('kube_pod_status_ready', { ...base, condition: cond }, v);
    } else if (c.type === 'PodScheduled') {
      for (const [cond, v] of conditionTriple(c.status)) s.add('kube_pod_status_scheduled', { ...base, condition: cond }, v);
      if (c.status === 'True') s.add('kube_pod_status_scheduled_time', base, epochSeconds(c.lastTransitionTime));
      if (c.status === 'False' && c.reason === 'Unschedulable') s.add('kube_pod_status_unschedulable', base, 1);
    }
  }
  for (const r of POD_STATUS_REASONS) s.add('kube_pod_status_reason', { ...base, reason: r }, statusReasonValue(p, r));
  if (st.qosClass) for (const q of QOS) s.add('kube_pod_status_qos_class', { ...base, qos_class: q }, st.qosClass === q ? 1 : 0);

  const specImage = new Map<string, string>();
  for (const c of (spec.containers ?? []) as Obj[]) specImage.set(c.name, c.image ?? '');
  for (const cs of (st.containerStatuses ?? []) as Obj[]) {
    const cl = { ...base, container: cs.name ?? '' };
    s.add('kube_pod_container_info', {
      ...cl,
      image_spec: specImage.get(cs.name) ?? '',
      image: cs.image ?? '',
      image_id: cs.imageID ?? '',
      container_id: cs.containerID ?? '',
    }, 1);
    const state = cs.state ?? {};
    s.add('kube_pod_container_status_waiting', cl, state.waiting ? 1 : 0);
    if (state.waiting?.reason) s.add('kube_pod_container_status_waiting_reason', { ...cl, reason: state.waiting.reason }, 1);
    s.add('kube_pod_container_status_running', cl, state.running ? 1 : 0);
    s.add('kube_pod_container_state_started', cl, epochSeconds(state.running?.startedAt ?? state.terminated?.startedAt));
    s.add('kube_pod_container_status_terminated', cl, state.terminated ? 1 : 0);
    if (state.terminated?.reason) s.add('kube_pod_container_status_terminated_reason', { ...cl, reason: state.terminated.reason }, 1);
    const last = cs.lastState?.terminated;
    if (last) {
      if (last.reason) s.add('kube_pod_container_status_last_terminated_reason', { ...cl, reason: last.reason }, 1);
      s.add('kube_pod_container_status_last_terminated_exitcode', cl, num(last.exitCode));
      s.add('kube_pod_container_status_last_terminated_timestamp', cl, epochSeconds(last.finishedAt));
    }
    s.add('kube_pod_container_status_ready', cl, cs.ready === true ? 1 : 0);
    s.add('kube_pod_container_status_restarts_total', cl, num(cs.restartCount) ?? 0);
  }

  const node = spec.nodeName ?? '';
  for (const c of (spec.containers ?? []) as Obj[]) {
    for (const [family, rl] of [
      ['kube_pod_container_resource_requests', c.resources?.requests],
      ['kube_pod_container_resource_limits', c.resources?.limits],
    ] as const) {
      for (const [res, q] of Object.entries((rl ?? {}) as Record<string, unknown>)) {
        const { resource, unit } = resourceLabels(res);
        const v = parseQuantity(q);
        // kube-state-metrics reads cpu as MilliValue()/1000 and the rest as Value(), which rounds up.
        s.add(family, { ...base, container: c.name ?? '', node, resource, unit }, res === 'cpu' ? Math.ceil(v * 1000) / 1000 : Math.ceil(v));
      }
    }
  }
  return s.out;
}
