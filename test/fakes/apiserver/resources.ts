/**
 * The resource table of the fake API server: which kinds it serves, under which group,
 * version and plural, and whether they are namespaced. Mirrors `kubectl api-resources`
 * for the kinds kubepulse and its tests touch; more can be added with
 * `FakeApiServer.registerResource`.
 */

/** One served resource, as the discovery API would describe it. */
export interface ResourceInfo {
  /** API group; '' for core (`/api/v1`). */
  readonly group: string;
  readonly version: string;
  /** Lower-case plural used in URLs, e.g. `pods`. */
  readonly resource: string;
  /** Kind of one object, e.g. `Pod`. */
  readonly kind: string;
  readonly namespaced: boolean;
}

const R = (group: string, version: string, resource: string, kind: string, namespaced: boolean): ResourceInfo => ({
  group,
  version,
  resource,
  kind,
  namespaced,
});

/** Resources served out of the box. */
export const DEFAULT_RESOURCES: readonly ResourceInfo[] = [
  R('', 'v1', 'pods', 'Pod', true),
  R('', 'v1', 'nodes', 'Node', false),
  R('', 'v1', 'namespaces', 'Namespace', false),
  R('', 'v1', 'services', 'Service', true),
  R('', 'v1', 'endpoints', 'Endpoints', true),
  R('', 'v1', 'events', 'Event', true),
  R('', 'v1', 'configmaps', 'ConfigMap', true),
  R('', 'v1', 'secrets', 'Secret', true),
  R('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true),
  R('', 'v1', 'persistentvolumes', 'PersistentVolume', false),
  R('', 'v1', 'serviceaccounts', 'ServiceAccount', true),
  R('', 'v1', 'replicationcontrollers', 'ReplicationController', true),
  R('', 'v1', 'resourcequotas', 'ResourceQuota', true),
  R('', 'v1', 'limitranges', 'LimitRange', true),
  R('apps', 'v1', 'deployments', 'Deployment', true),
  R('apps', 'v1', 'replicasets', 'ReplicaSet', true),
  R('apps', 'v1', 'daemonsets', 'DaemonSet', true),
  R('apps', 'v1', 'statefulsets', 'StatefulSet', true),
  R('batch', 'v1', 'jobs', 'Job', true),
  R('batch', 'v1', 'cronjobs', 'CronJob', true),
  R('autoscaling', 'v2', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', true),
  R('autoscaling', 'v1', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', true),
  R('events.k8s.io', 'v1', 'events', 'Event', true),
  R('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  R('networking.k8s.io', 'v1', 'ingresses', 'Ingress', true),
  R('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true),
  R('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false),
  R('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  R('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  R('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true),
];

/** `group/version` as written in `apiVersion` (`v1` for core). */
export function groupVersion(r: Pick<ResourceInfo, 'group' | 'version'>): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

/** Splits an `apiVersion` into group and version. */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** `group/version/resource`: the key of one resource in the server's store. */
export function resourceKey(group: string, version: string, resource: string): string {
  return `${group}/${version}/${resource}`;
}
