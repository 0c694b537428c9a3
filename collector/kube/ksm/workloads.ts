/**
 * Series of the workload kinds (deployments, replicasets, statefulsets, daemonsets,
 * jobs, cronjobs, horizontalpodautoscalers), with kube-state-metrics' names, labels and
 * semantics (internal/store/<kind>.go of kube-state-metrics 2.x).
 */
import {
  SampleList,
  allowlisted,
  conditionTriple,
  epochSeconds,
  num,
  type KsmOptions,
  type KsmSample,
  type Obj,
} from './common.js';

/** An int-or-percent (`maxSurge`, `maxUnavailable`) scaled against `total`, as the deployment controller does. */
function scaledIntOrPercent(v: unknown, total: number, roundUp: boolean): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+)%$/.exec(v);
  if (!m) return Number.isFinite(Number(v)) ? Number(v) : undefined;
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

function ownerSamples(s: SampleList, name: string, base: Record<string, string>, o: Obj): void {
  const owners = (o.metadata?.ownerReferences ?? []) as Obj[];
  if (owners.length === 0) s.add(name, { ...base, owner_kind: '', owner_name: '', owner_is_controller: '' }, 1);
  for (const r of owners) {
    s.add(name, { ...base, owner_kind: r.kind ?? '', owner_name: r.name ?? '', owner_is_controller: r.controller === true ? 'true' : 'false' }, 1);
  }
}

function metaSamples(s: SampleList, kind: string, resource: string, base: Record<string, string>, o: Obj, opts: KsmOptions): void {
  const md = o.metadata ?? {};
  s.add(`kube_${kind}_created`, base, epochSeconds(md.creationTimestamp));
  s.add(`kube_${kind}_labels`, { ...base, ...allowlisted(md.labels, opts.labelsAllowlist?.[resource], 'label') }, 1);
  s.add(`kube_${kind}_annotations`, { ...base, ...allowlisted(md.annotations, opts.annotationsAllowlist?.[resource], 'annotation') }, 1);
}

export function deploymentSamples(d: Obj, opts: KsmOptions = {}): KsmSample[] {
  const s = new SampleList();
  const base = { namespace: d.metadata?.namespace ?? '', deployment: d.metadata?.name ?? '' };
  const spec = d.spec ?? {};
  const st = d.status ?? {};
  metaSamples(s, 'deployment', 'deployments', base, d, opts);
  const replicas = num(spec.replicas) ?? 1;
  s.add('kube_deployment_spec_replicas', base, replicas);
  s.add('kube_deployment_spec_paused', base, spec.paused === true ? 1 : 0);
  s.add('kube_deployment_status_replicas', base, num(st.replicas) ?? 0);
  s.add('kube_deployment_status_replicas_ready', base, num(st.readyReplicas) ?? 0);
  s.add('kube_deployment_status_replicas_available', base, num(st.availableReplicas) ?? 0);
  s.add('kube_deployment_status_replicas_unavailable', base, num(st.unavailableReplicas) ?? 0);
  s.add('kube_deployment_status_replicas_updated', base, num(st.updatedReplicas) ?? 0);
  s.add('kube_deployment_status_observed_generation', base, num(st.observedGeneration) ?? 0);
  s.add('kube_deployment_metadata_generation', base, num(d.metadata?.generation) ?? 0);
  for (const c of (st.conditions ?? []) as Obj[]) {
    for (const [status, v] of conditionTriple(c.status)) s.add('kube_deployment_status_condition', { ...base, condition: c.type ?? '', status }, v);
  }
  const ru = spec.strategy?.rollingUpdate;
  if (ru) {
    s.add('kube_deployment_spec_strategy_rollingupdate_max_unavailable', base, scaledIntOrPercent(ru.maxUnavailable, replicas, false));
    s.add('kube_deployment_spec_strategy_rollingupdate_max_surge', base, scaledIntOrPercent(ru.maxSurge, replicas, true));
  }
  return s.out;
}

export function replicaSetSamples(r: Obj, opts: KsmOptions = {}): KsmSample[] {
  const s = new SampleList();
  const base = { namespace: r.metadata?.namespace ?? '', replicaset: r.metadata?.name ?? '' };
  const st = r.status ?? {};
  metaSamples(s, 'replicaset', 'replicasets', base, r, opts);
  s.add('kube_replicaset_spec_replicas', base, num(r.spec?.replicas) ?? 1);
  s.add('kube_replicaset_status_replicas', base, num(st.replicas) ?? 0);
  s.add('kube_replicaset_status_fully_labeled_replicas', base, num(st.fullyLabeledReplicas) ?? 0);
  s.add('kube_replicaset_status_ready_replicas', base, num(st.readyReplicas) ?? 0);
  s.add('kube_replicaset_status_observed_generation', base, num(st.observedGeneration) ?? 0);
  s.add('kube_replicaset_metadata_generation', base, num(r.metadata?.generation) ?? 0);
  ownerSamples(s, 'kube_replicaset_owner', base, r);
  return s.out;
}

export function statefulSetSamples(o: Obj, opts: KsmOptions = {}): KsmSample[] {
  const s = new SampleList();
  const base = { namespace: o.metadata?.namespace ?? '', statefulset: o.metadata?.name ?? '' };
  const st = o.status ?? {};
  metaSamples(s, 'statefulset', 'statefulsets', base, o, opts);
  s.add('kube_statefulset_replicas', base, num(o.spec?.replicas) ?? 1);
  s.add('kube_statefulset_status_replicas', base, num(st.replicas) ?? 0);
  s.add('kube_statefulset_status_replicas_available', base, num(st.availableReplicas) ?? 0);
  s.add('kube_statefulset_status_replicas_current', base, num(st.currentReplicas) ?? 0);
  s.add('kube_statefulset_status_replicas_ready', base, num(st.readyReplicas) ?? 0);
  s.add('kube_statefulset_status_replicas_updated', base, num(st.updatedReplicas) ?? 0);
  s.add('kube_statefulset_status_observed_generation', base, num(st.observedGeneration));
  s.add('kube_statefulset_metadata_generation', base, num(o.metadata?.generation) ?? 0);
  if (st.currentRevision) s.add('kube_statefulset_status_current_revision', { ...base, revision: st.currentRevision }, 1);
  if (st.updateRevision) s.add('kube_statefulset_status_update_revision', { ...base, revision: st.updateRevision }, 1);
  return s.out;
}

export function daemonSetSamples(o: Obj, opts: KsmOptions = {}): KsmSample[] {
  const s = new SampleList();
  const base = { namespace: o.metadata?.namespace ?? '', daemonset: o.metadata?.name ?? '' };
  const st = o.status ?? {};
  metaSamples(s, 'daemonset', 'daemonsets', base, o, opts);
  s.add('kube_daemonset_status_current_number_scheduled', base, num(st.currentNumberScheduled) ?? 0);
  s.add('kube_daemonset_status_desired_number_scheduled', base, num(st.desiredNumberScheduled) ?? 0);
  s.add('kube_daemonset_status_number_available', base, num(st.numberAvailable) ?? 0);
  s.add('kube_daemonset_status_number_misscheduled', base, num(st.numberMisscheduled) ?? 0);
  s.add('kube_daemonset_status_number_ready', base, num(st.numberReady) ?? 0);
  s.add('kube_daemonset_status_number_unavailable', base, num(st.numberUnavailable) ?? 0);
  s.add('kube_daemonset_status_updated_number_scheduled', base, num(st.updatedNumberScheduled) ?? 0);
  s.add('kube_daemonset_status_observed_generation', base, num(st.observedGeneration) ?? 0);
  s.add('kube_daemonset_metadata_generation', base, num(o.metadata?.generation) ?? 0);
  return s.out;
}

export function jobSamples(j: Obj, opts: KsmOptions = {}): KsmSample[] {
  const s = new SampleList();
  const base = { namespace: j.metadata?.namespace ?? '', job_name: j.metadata?.name ?? '' };
  const spec = j.spec ?? {};
  const st = j.status ?? {};
  metaSamples(s, 'job', 'jobs', base, j, opts);
  s.add('kube_job_info', base, 1);
  ownerSamples(s, 'kube_job_owner', base, j);
  s.add('kube_job_spec_parallelism', base, num(spec.parallelism));
  s.add('kube_job_spec_completions', base, num(spec.completions));
  s.add('kube_job_spec_active_deadline_seconds', base, num(spec.activeDeadlineSeconds));
  s.add('kube_job_status_succeeded', base, num(st.succeeded) ?? 0);
  s.add('kube_job_status_active', base, num(st.active) ?? 0);
  const failedCond = ((st.conditions ?? []) as Obj[]).find((c) => c.type === 'Failed' && c.status === 'True');
  // kube-state-metrics labels the failure with its reason once the job has failed.
  if (failedCond) {
    for (const r of ['BackoffLimitExceeded', 'DeadlineExceeded', 'Evicted']) {
      s.add('kube_job_status_failed', { ...base, reason: r }, failedCond.reason === r ? num(st.failed) ?? 0 : 0);
    }
  } else s.add('kube_job_status_failed', base, num(st.failed) ?? 0);
  s.add('kube_job_status_start_time', base, epochSeconds(st.startTime));
  s.add('kube_job_status_completion_time', base, epochSeconds(st.completionTime));
  for (const c of (st.conditions ?? []) as Obj[]) {
    const family = c.type === 'Complete' ? 'kube_job_complete' : c.type === 'Failed' ? 'kube_job_failed' : undefined;
    if (family) for (const [cond, v] of conditionTriple(c.status)) s.add(family, { ...base, condition: cond }, v);
  }
  return s.out;
}

export function cronJobSamples(c: Obj, opts: KsmOptions = {}): KsmSample[] {
  const s = new SampleList();
  const base = { namespace: c.metadata?.namespace ?? '', cronjob: c.metadata?.name ?? '' };
  const spec = c.spec ?? {};
  const st = c.status ?? {};
  metaSamples(s, 'cronjob', 'cronjobs', base, c, opts);
  s.add('kube_cronjob_info', { ...base, schedule: spec.schedule ?? '', concurrency_policy: spec.concurrencyPolicy ?? '' }, 1);
  s.add('kube_cronjob_status_active', base, ((st.active ?? []) as Obj[]).length);
  s.add('kube_cronjob_status_last_schedule_time', base, epochSeconds(st.lastScheduleTime));
  s.add('kube_cronjob_status_last_successful_time', base, epochSeconds(st.lastSuccessfulTime));
  s.add('kube_cronjob_spec_suspend', base, spec.suspend === true ? 1 : 0);
  s.add('kube_cronjob_spec_starting_deadline_seconds', base, num(spec.startingDeadlineSeconds));
  s.add('kube_cronjob_spec_successful_job_history_limit', base, num(spec.successfulJobsHistoryLimit));
  s.add('kube_cronjob_spec_failed_job_history_limit', base, num(spec.failedJobsHistoryLimit));
  return s.out;
}

export function hpaSamples(h: Obj, opts: KsmOptions = {}): KsmSample[] {
  const s = new SampleList();
  const base = { namespace: h.metadata?.namespace ?? '', horizontalpodautoscaler: h.metadata?.name ?? '' };
  const spec = h.spec ?? {};
  const st = h.status ?? {};
  metaSamples(s, 'horizontalpodautoscaler', 'horizontalpodautoscalers', base, h, opts);
  const ref = spec.scaleTargetRef ?? {};
  s.add('kube_horizontalpodautoscaler_info', {
    ...base,
    scaletargetref_api_version: ref.apiVersion ?? '',
    scaletargetref_kind: ref.kind ?? '',
    scaletargetref_name: ref.name ?? '',
  }, 1);
  s.add('kube_horizontalpodautoscaler_metadata_generation', base, num(h.metadata?.generation) ?? 0);
  s.add('kube_horizontalpodautoscaler_spec_max_replicas', base, num(spec.maxReplicas));
  s.add('kube_horizontalpodautoscaler_spec_min_replicas', base, num(spec.minReplicas) ?? 1);
  s.add('kube_horizontalpodautoscaler_status_current_replicas', base, num(st.currentReplicas) ?? 0);
  s.add('kube_horizontalpodautoscaler_status_desired_replicas', base, num(st.desiredReplicas) ?? 0);
  for (const c of (st.conditions ?? []) as Obj[]) {
    for (const [status, v] of conditionTriple(c.status)) s.add('kube_horizontalpodautoscaler_status_condition', { ...base, condition: c.type ?? '', status }, v);
  }
  // autoscaling/v2 metric specs: resource and containerResource targets.
  for (const m of (spec.metrics ?? []) as Obj[]) {
    const src = m.resource ?? m.containerResource;
    if (!src?.target) continue;
    const t = src.target;
    if (num(t.averageUtilization) !== undefined) s.add('kube_horizontalpodautoscaler_spec_target_metric', { ...base, metric_name: src.name, metric_target_type: 'utilization' }, t.averageUtilization);
  }
  return s.out;
}
