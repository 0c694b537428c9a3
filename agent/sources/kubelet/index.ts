export { KubeletSource, type KubeletSourceOptions, type KubeletStatus } from './kubelet-source.js';
export { KubeletClient, KubeletError, KubeletFailure, type KubeletClientOptions } from './kubelet-client.js';
export { registerKubeletMetrics, NOOP_KUBELET_METRICS, type KubeletSourceMetrics } from './kubelet-metrics.js';
export { emitSummary, SUMMARY_FAMILIES, METRICS_PATH_KUBELET, type SummaryEmitOptions, type SummaryEmitResult } from './summary-series.js';
export type { Summary } from './summary-types.js';
export { createPodSources, SA_TOKEN_FILE, SA_CA_FILE, DEFAULT_CGROUP_ROOT, KUBELET_PORT, type PodSourcesOptions, type PodSources, type PodSourcesMode, type KubeApiMode } from './pod-sources.js';
