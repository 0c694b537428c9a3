/**
 * What the change history records of an object: a snapshot of its labels, annotations
 * and the spec parts operators ask about after an incident (images, replicas,
 * resources, env names, schedule, taints, …), and the JSON diff between two snapshots.
 * Never env values, Secret or ConfigMap data, nor the last-applied-configuration
 * annotation. Containers are keyed by name so a diff names the container.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Obj } from './ksm/index.js';
import { LAST_APPLIED } from './kube-client.js';

/** The recorded state of one object. */
export interface Snapshot {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: Record<string, unknown>;
}

/** One changed leaf: `path` like `/spec/containers/web/image`. */
export interface DiffOp {
  op: 'add' | 'remove' | 'replace';
  path: string;
  old?: unknown;
  new?: unknown;
}

function containers(cs: Obj[] | undefined): Record<string, unknown> | undefined {
  if (!Array.isArray(cs) || cs.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const c of cs) {
    out[c.name] = prune({
      image: c.image,
      resources: c.resources && Object.keys(c.resources).length ? c.resources : undefined,
      env: Array.isArray(c.env) && c.env.length ? c.env.map((e: Obj) => e.name) : undefined,
      envFrom: Array.isArray(c.envFrom) && c.envFrom.length
        ? c.envFrom.map((e: Obj) => e.configMapRef?.name ? `configmap:${e.configMapRef.name}` : e.secretRef?.name ? `secret:${e.secretRef.name}` : '?')
        : undefined,
      command: c.command,
      args: c.args,
    });
  }
  return out;
}

function podTemplate(t: Obj): Record<string, unknown> {
  const s = t?.spec ?? {};
  return prune({
    containers: containers(s.containers),
    initContainers: containers(s.initContainers),
    serviceAccountName: s.serviceAccountName,
    nodeSelector: s.nodeSelector,
    tolerations: s.tolerations,
    priorityClassName: s.priorityClassName,
    templateLabels: t?.metadata?.labels,
  });
}

function prune(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) if (o[k] === undefined || o[k] === null) delete o[k];
  return o;
}

/** The tracked spec parts of `o`, by kind. */
function specOf(kind: string, o: Obj): Record<string, unknown> {
  const spec = o.spec ?? {};
  switch (kind) {
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
    case 'DaemonSet':
      return prune({
        replicas: spec.replicas,
        paused: spec.paused,
        strategy: spec.strategy ?? spec.updateStrategy,
        ...podTemplate(spec.template),
      });
    case 'Job':
      return prune({ parallelism: spec.parallelism, completions: spec.completions, backoffLimit: spec.backoffLimit, suspend: spec.suspend, ...podTemplate(spec.template) });
    case 'CronJob':
      return prune({ schedule: spec.schedule, suspend: spec.suspend, concurrencyPolicy: spec.concurrencyPolicy, ...podTemplate(spec.jobTemplate?.spec?.template) });
    case 'HorizontalPodAutoscaler':
      return prune({ minReplicas: spec.minReplicas, maxReplicas: spec.maxReplicas, scaleTargetRef: spec.scaleTargetRef, metrics: spec.metrics, targetCPUUtilizationPercentage: spec.targetCPUUtilizationPercentage });
    case 'Node':
      return prune({ unschedulable: spec.unschedulable, taints: spec.taints, podCIDR: spec.podCIDR, providerID: spec.providerID });
    case 'Pod':
      return prune({ nodeName: spec.nodeName, ...podTemplate({ spec }) });
    default:
      return {};
  }
}

/** The snapshot of `o` (of kind `kind`) that the history compares. */
export function snapshotOf(kind: string, o: Obj): Snapshot {
  const annotations: Record<string, string> = { ...(o.metadata?.annotations ?? {}) };
  delete annotations[LAST_APPLIED];
  return { labels: { ...(o.metadata?.labels ?? {}) }, annotations, spec: specOf(kind, o) };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function esc(k: string): string {
  return k.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The leaf-level differences from `a` to `b` (objects recurse; arrays and scalars are
 * compared whole); empty when equal. Keys are JSON-pointer-escaped.
 */
export function diffSnapshots(a: unknown, b: unknown, path = ''): DiffOp[] {
  if (isDeepStrictEqual(a, b)) return [];
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: DiffOp[] = [];
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const p = `${path}/${esc(k)}`;
      if (!(k in b)) out.push({ op: 'remove', path: p, old: a[k] });
      else if (!(k in a)) out.push({ op: 'add', path: p, new: b[k] });
      else out.push(...diffSnapshots(a[k], b[k], p));
    }
    return out;
  }
  if (a === undefined) return [{ op: 'add', path, new: b }];
  if (b === undefined) return [{ op: 'remove', path, old: a }];
  return [{ op: 'replace', path, old: a, new: b }];
}

/** A short status summary for the objects API, by kind. */
export function statusSummary(kind: string, o: Obj): Record<string, unknown> {
  const st = o.status ?? {};
  switch (kind) {
    case 'Pod': {
      const cs = (st.containerStatuses ?? []) as Obj[];
      return prune({
        phase: st.phase,
        node: o.spec?.nodeName,
        ready: cs.length > 0 && cs.every((c) => c.ready === true),
        restarts: cs.reduce((n, c) => n + (c.restartCount ?? 0), 0),
        reasons: [...new Set(cs.map((c) => c.state?.waiting?.reason ?? c.state?.terminated?.reason).filter(Boolean))],
      });
    }
    case 'Node': {
      const ready = ((st.conditions ?? []) as Obj[]).find((c) => c.type === 'Ready');
      return prune({ ready: ready?.status, unschedulable: o.spec?.unschedulable === true, kubeletVersion: st.nodeInfo?.kubeletVersion });
    }
    case 'Namespace':
      return prune({ phase: st.phase });
    case 'Deployment':
    case 'StatefulSet':
    case 'ReplicaSet':
      return prune({
        desired: o.spec?.replicas,
        replicas: st.replicas,
        ready: st.readyReplicas,
        available: st.availableReplicas,
        updated: st.updatedReplicas,
        unavailable: st.unavailableReplicas,
        observedGeneration: st.observedGeneration,
      });
    case 'DaemonSet':
      return prune({ desired: st.desiredNumberScheduled, ready: st.numberReady, available: st.numberAvailable, unavailable: st.numberUnavailable, misscheduled: st.numberMisscheduled });
    case 'Job':
      return prune({ active: st.active, succeeded: st.succeeded, failed: st.failed, completionTime: st.completionTime });
    case 'CronJob':
      return prune({ active: ((st.active ?? []) as Obj[]).length, lastScheduleTime: st.lastScheduleTime, lastSuccessfulTime: st.lastSuccessfulTime });
    case 'HorizontalPodAutoscaler':
      return prune({ current: st.currentReplicas, desired: st.desiredReplicas });
    default:
      return prune({ phase: st.phase });
  }
}
