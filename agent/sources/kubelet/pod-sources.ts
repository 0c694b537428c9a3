/**
 * Builds the pod/container side of the agent from flat settings, so `main.ts` wires one
 * call: the pod watch (when the API is used), the kubelet source and the cgroup source,
 * in one of three modes:
 *
 * - `kubernetes`: API reachable (in-cluster, or `--kubeconfig`) — pods named by the watch.
 * - `kubelet-only`: `--kube-api off` with a kubelet URL — pods named from the summary's
 *   `podRef`, cgroup series for pods only (the summary has no container IDs).
 * - `host`: no API and no kubelet URL — every cgroup under the root is a container.
 */
import { Counter, type Registry } from '../../metrics-registry.js';
import type { Logger, Service } from '../../../shared/index.js';
import { KubepulseError, errorMessage, noopLogger } from '../../../shared/index.js';
import type { Source } from '../source.js';
import { PodWatcher } from '../../discovery/pod-watcher.js';
import { inClusterConnection, kubeconfigConnection, SERVICE_ACCOUNT_DIR, type KubeConnection } from '../../discovery/kube-connection.js';
import { CgroupSource } from '../cgroup/cgroup-source.js';
import { KubeletSource } from './kubelet-source.js';
import { registerKubeletMetrics } from './kubelet-metrics.js';

/** The service-account files every pod gets. */
export const SA_TOKEN_FILE = `${SERVICE_ACCOUNT_DIR}/token`;
export const SA_CA_FILE = `${SERVICE_ACCOUNT_DIR}/ca.crt`;
export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';
export const KUBELET_PORT = 10250;

export type KubeApiMode = 'auto' | 'off';
export type PodSourcesMode = 'kubernetes' | 'kubelet-only' | 'host';

export interface PodSourcesOptions {
  /** `--kube-api`: `auto` uses the API when in-cluster or given a kubeconfig; `off` never. Default `auto`. */
  kubeApi?: KubeApiMode;
  /** `--kubeconfig`: a kubeconfig file; '' / absent: in-cluster config when `KUBERNETES_SERVICE_HOST` is set. */
  kubeconfig?: string;
  /** This node (`NODE_NAME`, downward API `spec.nodeName`); required with the API. */
  nodeName?: string;
  /** `--kubelet-url`; absent: `https://$NODE_IP:10250` in kubernetes mode, none otherwise. */
  kubeletUrl?: string;
  /** `NODE_IP` (downward API `status.hostIP`), for the default kubelet URL. */
  nodeIp?: string;
  /** `--kubelet-token-file`. Default the service-account token. */
  tokenFile?: string;
  /** `--kubelet-ca-file`. Default the service-account CA (the cluster CA). */
  caFile?: string;
  /** `--kubelet-insecure-skip-verify`. Default false. */
  insecureSkipVerify?: boolean;
  /** `--kubelet-timeout`, ms. Default 5000. */
  kubeletTimeoutMs?: number;
  /** `--cgroup-root`. Default `/sys/fs/cgroup` (`/host/sys/fs/cgroup` in the chart). */
  cgroupRoot?: string;
  /** Target labels of both sources. Default `{job: 'kubelet', metrics_path: '/metrics/cadvisor'}`. */
  targetLabels?: Readonly<Record<string, string>>;
  logger?: Logger;
  /** Where the self-metrics go (`kubepulse_agent_kubelet_up`, `…_pod_watch_errors_total`). */
  registry?: Registry;
  /** Environment to read `KUBERNETES_SERVICE_HOST` from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Where the service account's token and CA are mounted (in-cluster). Default {@link SERVICE_ACCOUNT_DIR}. */
  serviceAccountDir?: string;
}

export interface PodSources {
  readonly mode: PodSourcesMode;
  /** Add to the sampler's sources. */
  readonly sources: Source[];
  /** Start before the first tick, stop after the last (the pod watch). */
  readonly services: Service[];
  readonly kubelet?: KubeletSource;
  readonly podWatcher?: PodWatcher;
}

/** Resolves the mode and builds the parts. Rejects with {@link KubepulseError} naming the missing setting. */
export async function createPodSources(opts: PodSourcesOptions): Promise<PodSources> {
  const env = opts.env ?? process.env;
  const log = (opts.logger ?? noopLogger()).child({ component: 'pod-sources' });
  const cgroupRoot = opts.cgroupRoot || DEFAULT_CGROUP_ROOT;
  const kubeApi = opts.kubeApi ?? 'auto';
  if (kubeApi !== 'auto' && kubeApi !== 'off') throw new KubepulseError('KP_ERR_CONFIG', `--kube-api must be "auto" or "off", got ${JSON.stringify(kubeApi)}`);
  let conn: KubeConnection | undefined;
  if (kubeApi === 'auto') {
    if (opts.kubeconfig) conn = await kubeconfigConnection(opts.kubeconfig);
    else if (env.KUBERNETES_SERVICE_HOST) conn = inClusterConnection(env, opts.serviceAccountDir);
  }
  const kubeletOpts = (url: string) => ({
    url,
    tokenFile: opts.tokenFile ?? SA_TOKEN_FILE,
    caFile: opts.caFile ?? SA_CA_FILE,
    insecureSkipVerify: opts.insecureSkipVerify ?? false,
    timeoutMs: opts.kubeletTimeoutMs,
  });
  const metrics = opts.registry ? registerKubeletMetrics(opts.registry) : undefined;

  if (conn) {
    if (!opts.nodeName) throw new KubepulseError('KP_ERR_CONFIG', 'NODE_NAME is not set: the agent needs its node name (downward API spec.nodeName) to watch the pods on its node');
    const url = opts.kubeletUrl || (opts.nodeIp ? `https://${hostForUrl(opts.nodeIp)}:${KUBELET_PORT}` : '');
    if (!url) throw new KubepulseError('KP_ERR_CONFIG', 'no kubelet address: set NODE_IP (downward API status.hostIP) or --kubelet-url');
    const watchErrors = opts.registry
      ? new Counter({ name: 'kubepulse_agent_pod_watch_errors_total', help: 'Pod list/watch failures, by reason.', labelNames: ['reason'], registers: [opts.registry] })
      : undefined;
    const podWatcher = new PodWatcher({ connection: conn, nodeName: opts.nodeName, logger: opts.logger, metrics: watchErrors && { error: (r) => watchErrors.inc({ reason: r }) } });
    const kubelet = new KubeletSource({ kubelet: kubeletOpts(url), podIndex: podWatcher, targetLabels: opts.targetLabels, metrics });
    const cgroup = new CgroupSource({ root: cgroupRoot, mode: 'kubernetes', podIndex: podWatcher, targetLabels: opts.targetLabels });
    log.info({ mode: 'kubernetes', node: opts.nodeName, apiServer: conn.server, apiConfig: conn.source, kubelet: url, cgroupRoot }, 'Pod sources');
    return { mode: 'kubernetes', sources: [kubelet, cgroup], services: [podWatcher], kubelet, podWatcher };
  }
  if (opts.kubeletUrl) {
    let cgroupsReadable = true;
    try {
      // Against a remote kubelet (`--once` from a laptop) there may be no cgroupfs here at all.
      new CgroupSource({ root: cgroupRoot, mode: 'host' }).detect();
    } catch (err) {
      cgroupsReadable = false;
      log.info({ cgroupRoot, err: errorMessage(err) }, 'No cgroups readable: kubelet series only, PSI from the summary');
    }
    // Without a cgroup source, the summary's PSI blocks (1.34+) are the only pressure data.
    const kubelet = new KubeletSource({ kubelet: kubeletOpts(opts.kubeletUrl), targetLabels: opts.targetLabels, metrics, pressure: !cgroupsReadable });
    const sources: Source[] = [kubelet];
    if (cgroupsReadable) sources.push(new CgroupSource({ root: cgroupRoot, mode: 'kubernetes', podIndex: kubelet.summaryPodIndex(), targetLabels: opts.targetLabels }));
    log.info({ mode: 'kubelet-only', kubelet: opts.kubeletUrl, cgroupRoot }, 'Pod sources');
    return { mode: 'kubelet-only', sources, services: [] };
  }
  log.info({ mode: 'host', cgroupRoot }, 'Pod sources: no Kubernetes API and no kubelet URL, every cgroup is a container');
  return { mode: 'host', sources: [new CgroupSource({ root: cgroupRoot, mode: 'host', targetLabels: opts.targetLabels })], services: [] };
}

function hostForUrl(ip: string): string {
  return ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip;
}
