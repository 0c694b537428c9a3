/**
 * Label names and values shared by the agent, the collector and the rule packs, so the
 * kubernetes-mixin selectors (`job="node-exporter"`, `job="kubelet",
 * metrics_path="/metrics/cadvisor"`, `job="kube-state-metrics"`) match what we emit.
 */

export const LABEL_JOB = 'job';
export const LABEL_INSTANCE = 'instance';
export const LABEL_NODE = 'node';
export const LABEL_CLUSTER = 'cluster';
export const LABEL_NAMESPACE = 'namespace';
export const LABEL_POD = 'pod';
export const LABEL_CONTAINER = 'container';
export const LABEL_METRICS_PATH = 'metrics_path';

/** Default `job` label values, each configurable. */
export const JOB_NODE = 'node-exporter';
export const JOB_KUBELET = 'kubelet';
export const JOB_KUBE_STATE = 'kube-state-metrics';
export const METRICS_PATH_CADVISOR = '/metrics/cadvisor';

export const DEFAULT_CLUSTER = 'default';

/** Ports of the design's defaults. */
export const COLLECTOR_PORT = 9190;
export const AGENT_PORT = 9191;
