/**
 * The kinds the collector watches: where to list/watch them, whether they are
 * namespaced, which kube-state-metrics generator turns them into series and whether
 * their changes are recorded in the history. The RBAC the collector needs is exactly
 * get/list/watch on these (see docs/cluster-state.md).
 */
import {
  cronJobSamples,
  daemonSetSamples,
  deploymentSamples,
  hpaSamples,
  jobSamples,
  namespaceSamples,
  nodeSamples,
  podSamples,
  pvSamples,
  pvcSamples,
  replicaSetSamples,
  serviceSamples,
  statefulSetSamples,
  type KsmOptions,
  type KsmSample,
  type Obj,
} from './ksm/index.js';

/** One watched kind. */
export interface WatchedResource {
  /** Plural, lower case: the `resource` label of `kubepulse_kube_watch_up` and the API's `:kind`. */
  readonly resource: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** List/watch paths, tried in order; the next is used when the previous answers 404. */
  readonly paths: readonly string[];
  /** The kube-state-metrics series of one object; absent for events. */
  readonly samples?: (o: Obj, opts: KsmOptions) => KsmSample[];
  /** True when metadata/spec changes are recorded in the change history. */
  readonly history: boolean;
}

const W = (
  resource: string,
  kind: string,
  namespaced: boolean,
  paths: string[],
  samples: WatchedResource['samples'],
  history: boolean,
): WatchedResource => ({ resource, kind, namespaced, paths, samples, history });

/** Every kind the collector watches, in start order (nodes and namespaces first). */
export const WATCHED_RESOURCES: readonly WatchedResource[] = [
  W('nodes', 'Node', false, ['/api/v1/nodes'], nodeSamples, true),
  W('namespaces', 'Namespace', false, ['/api/v1/namespaces'], namespaceSamples, true),
  W('pods', 'Pod', true, ['/api/v1/pods'], podSamples, false),
  W('deployments', 'Deployment', true, ['/apis/apps/v1/deployments'], deploymentSamples, true),
  W('replicasets', 'ReplicaSet', true, ['/apis/apps/v1/replicasets'], replicaSetSamples, true),
  W('daemonsets', 'DaemonSet', true, ['/apis/apps/v1/daemonsets'], daemonSetSamples, true),
  W('statefulsets', 'StatefulSet', true, ['/apis/apps/v1/statefulsets'], statefulSetSamples, true),
  W('jobs', 'Job', true, ['/apis/batch/v1/jobs'], jobSamples, true),
  W('cronjobs', 'CronJob', true, ['/apis/batch/v1/cronjobs'], cronJobSamples, true),
  W('horizontalpodautoscalers', 'HorizontalPodAutoscaler', true, ['/apis/autoscaling/v2/horizontalpodautoscalers', '/apis/autoscaling/v1/horizontalpodautoscalers'], hpaSamples, true),
  W('persistentvolumeclaims', 'PersistentVolumeClaim', true, ['/api/v1/persistentvolumeclaims'], pvcSamples, false),
  W('persistentvolumes', 'PersistentVolume', false, ['/api/v1/persistentvolumes'], pvSamples, false),
  W('services', 'Service', true, ['/api/v1/services'], serviceSamples, false),
  W('events', 'Event', true, ['/apis/events.k8s.io/v1/events', '/api/v1/events'], undefined, false),
];

/**
 * The watched resource named by `kind`: its plural (`deployments`), singular
 * (`deployment`) or Kind (`Deployment`), case-insensitive; undefined when not watched.
 */
export function findResource(kind: string): WatchedResource | undefined {
  const k = kind.toLowerCase();
  return WATCHED_RESOURCES.find((r) => r.resource === k || r.kind.toLowerCase() === k);
}
