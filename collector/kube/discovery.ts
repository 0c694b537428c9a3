/**
 * Finds the API server: `--kubeconfig FILE` when given, else the in-cluster service
 * account (KUBERNETES_SERVICE_HOST/PORT and the mounted token), else nothing, in which
 * case the collector runs without cluster state and says so once. Never falls back to
 * client-node's `localhost:8080` default.
 */
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../shared/index.js';

export const SERVICEACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface DiscoverOptions {
  /** Path of a kubeconfig file (the `--kubeconfig` flag); wins over in-cluster. */
  kubeconfig?: string;
  /** Context to use from the kubeconfig; default its current context. */
  context?: string;
  /** Environment; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Token file checked for in-cluster mode; default the service-account path. */
  tokenFile?: string;
  logger?: Logger;
}

/** How the API server was found. */
export type Discovery = { kc: KubeConfig; mode: 'kubeconfig' | 'in-cluster'; server: string } | { kc: undefined; mode: 'none' };

/**
 * The KubeConfig to use, or `{ mode: 'none' }`. Throws (naming the file) when the
 * given kubeconfig cannot be read or has no current cluster: a flag the user set must
 * not be silently ignored.
 */
export function discoverApiServer(opts: DiscoverOptions = {}): Discovery {
  const env = opts.env ?? process.env;
  if (opts.kubeconfig) {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(opts.kubeconfig);
    } catch (cause) {
      throw new Error(`reading kubeconfig ${opts.kubeconfig}: ${(cause as Error).message}`, { cause });
    }
    if (opts.context) {
      if (!kc.getContextObject(opts.context)) throw new Error(`kubeconfig ${opts.kubeconfig} has no context ${JSON.stringify(opts.context)}`);
      kc.setCurrentContext(opts.context);
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error(`kubeconfig ${opts.kubeconfig} has no current cluster (current-context ${JSON.stringify(kc.getCurrentContext())})`);
    opts.logger?.info({ server: cluster.server, context: kc.getCurrentContext() }, 'Watching the cluster through the kubeconfig');
    return { kc, mode: 'kubeconfig', server: cluster.server };
  }
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && existsSync(opts.tokenFile ?? SERVICEACCOUNT_TOKEN)) {
    const kc = new KubeConfig();
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    // loadFromCluster reads process.env; honour an injected env without leaking it.
    process.env.KUBERNETES_SERVICE_HOST = env.KUBERNETES_SERVICE_HOST;
    process.env.KUBERNETES_SERVICE_PORT = env.KUBERNETES_SERVICE_PORT;
    try {
      kc.loadFromCluster();
    } finally {
      restore('KUBERNETES_SERVICE_HOST', saved.host);
      restore('KUBERNETES_SERVICE_PORT', saved.port);
    }
    const server = kc.getCurrentCluster()!.server;
    opts.logger?.info({ server }, 'Watching the cluster from inside it (service account)');
    return { kc, mode: 'in-cluster', server };
  }
  opts.logger?.info('No Kubernetes API server configured (no --kubeconfig, not in a cluster): running without cluster state');
  return { kc: undefined, mode: 'none' };
}

function restore(name: string, v: string | undefined): void {
  if (v === undefined) delete process.env[name];
  else process.env[name] = v;
}
