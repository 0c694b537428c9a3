/**
 * The pods on this node, kept current by a node-scoped `ListWatch`
 * (`fieldSelector=spec.nodeName=<node>`). client-node 1.4's ListWatch relists after a
 * 410 and reconnects after a clean watch end by itself, but stops on any other error:
 * this class restarts it with exponential backoff (1 s doubling to 30 s, jittered).
 */
import { CoreV1Api, ListWatch, Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Logger, Service } from '../../shared/index.js';
import { backoffDelay, errorMessage, noopLogger, sleep } from '../../shared/index.js';
import { PodStore, type ContainerRef, type PodIndex, type PodInfo } from './pod-index.js';

export interface PodWatcherMetrics {
  /** One watch/list failure; `reason` is a bounded label value (`list`, `watch`, `http_<status>`). */
  error(reason: string): void;
}

export interface PodWatcherOptions {
  /** Where the API server is (in-cluster: `kc.loadFromCluster()`). */
  kubeConfig: KubeConfig;
  /** This node's name (`NODE_NAME` from the downward API). */
  nodeName: string;
  logger?: Logger;
  metrics?: PodWatcherMetrics;
  /** First restart delay, ms. Default 1000. */
  minBackoffMs?: number;
  /** Longest restart delay, ms. Default 30000. */
  maxBackoffMs?: number;
  /** How long `start()` waits for the first list before resolving anyway, ms. Default 10000. */
  startTimeoutMs?: number;
}

/** A {@link PodIndex} fed by the API server. Start once; stop is idempotent. */
export class PodWatcher implements PodIndex, Service {
  private readonly store = new PodStore();
  private readonly opts: PodWatcherOptions;
  private readonly log: Logger;
  private readonly lw: ListWatch<V1Pod>;
  private readonly stopAc = new AbortController();
  private attempt = 0;
  private failedThisAttempt = false;
  private restarting = false;
  private started = false;
  private syncWaiters: Array<() => void> = [];

  constructor(opts: PodWatcherOptions) {
    if (!opts.nodeName) throw new Error('the pod watcher needs the node name (set NODE_NAME from the downward API, spec.nodeName)');
    this.opts = opts;
    this.log = (opts.logger ?? noopLogger()).child({ component: 'pod-watcher', node: opts.nodeName });
    const selector = `spec.nodeName=${opts.nodeName}`;
    const api = opts.kubeConfig.makeApiClient(CoreV1Api);
    const listFn = () => api.listPodForAllNamespaces({ fieldSelector: selector });
    this.lw = new ListWatch<V1Pod>('/api/v1/pods', new Watch(opts.kubeConfig), listFn, false, undefined, selector);
    this.lw.on('add', (p) => this.store.upsert(p));
    this.lw.on('update', (p) => this.store.upsert(p));
    this.lw.on('delete', (p) => this.store.delete(p));
    this.lw.on('error', (err) => this.onError(err));
    this.lw.on('connect', () => this.log.debug('Pod watch connecting'));
  }

  pod(uid: string): PodInfo | undefined {
    return this.store.pod(uid);
  }
  container(id: string): ContainerRef | undefined {
    return this.store.container(id);
  }
  synced(): boolean {
    return this.store.synced();
  }
  size(): number {
    return this.store.size();
  }
  /** The pods held now. */
  pods(): PodInfo[] {
    return [...this.store.pods()];
  }

  /**
   * Lists and starts watching. Resolves after the first list succeeded, or after
   * `startTimeoutMs` (the watcher keeps retrying in the background; `synced()` tells).
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const synced = new Promise<void>((resolve) => this.syncWaiters.push(resolve));
    void this.run();
    await Promise.race([synced, sleep(this.opts.startTimeoutMs ?? 10_000, this.stopAc.signal)]);
    if (!this.synced()) this.log.warn({ node: this.opts.nodeName }, 'Pod list not complete yet; pods are named from the kubelet summary until it is');
  }

  /** Resolves once the index holds a complete list (or at once if it does), or when stopped. */
  waitForSync(): Promise<void> {
    if (this.synced() || this.stopAc.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    if (this.stopAc.signal.aborted) return;
    this.stopAc.abort();
    await this.lw.stop();
    for (const w of this.syncWaiters.splice(0)) w();
  }

  private async run(): Promise<void> {
    this.failedThisAttempt = false;
    try {
      await this.lw.start();
    } catch (err) {
      this.onError(err);
      return;
    }
    // ListWatch.start() resolves even when the list failed (it reports through 'error').
    if (!this.failedThisAttempt && !this.stopAc.signal.aborted) {
      if (!this.store.synced()) this.log.info({ pods: this.store.size() }, 'Pod index synced');
      this.store.markSynced();
      this.attempt = 0;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private onError(err: unknown): void {
    this.failedThisAttempt = true;
    if (this.stopAc.signal.aborted) return;
    const status = (err as { statusCode?: number; code?: number }).statusCode ?? (err as { code?: unknown }).code;
    const reason = typeof status === 'number' ? `http_${status}` : 'watch';
    this.opts.metrics?.error(reason);
    if (status === 403) {
      this.log.error({ err: errorMessage(err) }, 'Pod watch forbidden: the agent ServiceAccount needs "list" and "watch" on "pods" (apiGroup "") cluster-wide');
    } else {
      this.log.warn({ err: errorMessage(err), attempt: this.attempt }, 'Pod watch failed; restarting with backoff');
    }
    if (this.restarting) return;
    this.restarting = true;
    const delay = backoffDelay(this.attempt++, this.opts.minBackoffMs ?? 1000, this.opts.maxBackoffMs ?? 30_000);
    void sleep(delay, this.stopAc.signal).then(() => {
      this.restarting = false;
      if (!this.stopAc.signal.aborted) void this.run();
    });
  }
}
