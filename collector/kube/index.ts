/**
 * Cluster state (issue 8): informers on the Kubernetes API, kube-state-metrics
 * compatible series, events, object history and topology, and their HTTP API.
 */
export { ClusterState, type ClusterStateOptions, type ObjectView } from './cluster-state.js';
export { discoverApiServer, type DiscoverOptions, type Discovery } from './discovery.js';
export { kubeApiPlugin, type KubeApiPluginOptions, type ClusterStateView } from './api-plugin.js';
export { WATCHED_RESOURCES, findResource, type WatchedResource } from './resources.js';
export { KubeDb, type KubeEventRecord, type EventQuery, type HistoryEntry } from './kube-db.js';
export { buildTopology, readContainerUsage, type Topology } from './topology.js';
export { KubeSeriesWriter } from './series-writer.js';
export { ResourceWatcher } from './watcher.js';
export { trimObject } from './kube-client.js';
export * from './ksm/index.js';
