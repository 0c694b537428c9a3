/**
 * The pods on this node, kept current by a node-scoped list and watch
 * (`fieldSelector=spec.nodeName=<node>`), the informer protocol of the API server:
 * list (paged), then watch from the list's resourceVersion with bookmarks; a watch the
 * server ends cleanly is reopened from the newest resourceVersion seen; a 410 Gone
 * (the version was compacted away) relists at once; any other failure relists after an
 * exponential backoff (1 s doubling to 30 s, jittered). A relist replaces the index, so
 * pods deleted while the watch was away disappear.
 */
import type { Logger, Service } from '../../shared/index.js';
import { backoffDelay, errorMessage, noopLogger, sleep } from '../../shared/index.js';
import { KubeApiError, KubeClient, type WatchEvent } from './kube-client.js';
import type { KubeConnection } from './kube-connection.js';
import { PodStore, type ContainerRef, type PodIndex, type PodInfo, type PodObject } from './pod-index.js';

export interface PodWatcherMetrics {
  /** One watch/list failure; `reason` is a bounded label value (`list`, `watch`, `http_<status>`). */
  error(reason: string): void;
}

export interface PodWatcherOptions {
  /** Where the API server is and how to authenticate (in-cluster or a kubeconfig). */
  connection: KubeConnection;
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
  /** Server-side length of one watch request, s (jittered up to twice this, as client-go does). Default 300. */
  watchTimeoutS?: number;
  /** Timeout of one list request, ms. Default 30000. */
  listTimeoutMs?: number;
}

interface PodList {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: PodObject[];
}

const PODS_PATH = '/api/v1/pods';
/** Pods per list page: a node holds at most a few hundred; pages bound the answer's size anyway. */
const LIST_PAGE = '500';

/** A {@link PodIndex} fed by the API server. Start once; stop is idempotent. */
export class PodWatcher implements PodIndex, Service {
  private readonly store = new PodStore();
  private readonly opts: PodWatcherOptions;
  private readonly log: Logger;
  private readonly client: KubeClient;
  private readonly selector: string;
  private readonly stopAc = new AbortController();
  private started = false;
  private running: Promise<void> | undefined;
  private syncWaiters: Array<() => void> = [];

  constructor(opts: PodWatcherOptions) {
    if (!opts.nodeName) throw new Error('the pod watcher needs the node name (set NODE_NAME from the downward API, spec.nodeName)');
    this.opts = opts;
    this.log = (opts.logger ?? noopLogger()).child({ component: 'pod-watcher', node: opts.nodeName });
    this.selector = `spec.nodeName=${opts.nodeName}`;
    this.client = new KubeClient(opts.connection);
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
  /**
   * Lists and starts watching. Resolves after the first list succeeded, or after
   * `startTimeoutMs` (the watcher keeps retrying in the background; `synced()` tells).
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const synced = new Promise<void>((resolve) => this.syncWaiters.push(resolve));
    this.running = this.run();
    await Promise.race([synced, sleep(this.opts.startTimeoutMs ?? 10_000, this.stopAc.signal)]);
    if (!this.synced()) this.log.warn({ node: this.opts.nodeName }, 'Pod list not complete yet; pods are named from the kubelet summary until it is');
  }

  async stop(): Promise<void> {
    if (this.stopAc.signal.aborted) return;
    this.stopAc.abort();
    await this.running;
    this.client.close();
    for (const w of this.syncWaiters.splice(0)) w();
  }

  /** List, then watch until told to stop; every failure ends in a relist. */
  private async run(): Promise<void> {
    const signal = this.stopAc.signal;
    let attempt = 0;
    while (!signal.aborted) {
      let listed = false;
      try {
        let rv = await this.list(signal);
        listed = true;
        for (;;) {
          rv = await this.watchFrom(rv, signal);
          if (signal.aborted) return;
          attempt = 0;
        }
      } catch (err) {
        if (signal.aborted) return;
        const gone = err instanceof KubeApiError && err.statusCode === 410;
        this.report(err, listed ? 'watch' : 'list', gone);
        // 410 is the protocol's "your version is too old": relist now, it is not a failure to back off from.
        if (!gone) await sleep(backoffDelay(attempt++, this.opts.minBackoffMs ?? 1000, this.opts.maxBackoffMs ?? 30_000), signal);
      }
    }
  }

  /** Lists this node's pods (all pages), replaces the index, returns the list's resourceVersion. */
  private async list(signal: AbortSignal): Promise<string> {
    const pods: PodObject[] = [];
    let cont = '';
    let rv = '';
    do {
      const q: Record<string, string> = { fieldSelector: this.selector, limit: LIST_PAGE };
      if (cont) q.continue = cont;
      const page = await this.client.getJson<PodList>(PODS_PATH, q, signal, this.opts.listTimeoutMs ?? 30_000);
      for (const p of page.items ?? []) pods.push(p);
      cont = page.metadata?.continue ?? '';
      rv = page.metadata?.resourceVersion ?? '';
    } while (cont && !signal.aborted);
    if (signal.aborted) return rv;
    const first = !this.store.synced();
    this.store.replaceAll(pods);
    if (first) this.log.info({ pods: this.store.size() }, 'Pod index synced');
    for (const w of this.syncWaiters.splice(0)) w();
    return rv;
  }

  /** One watch request from `rv`; returns the newest resourceVersion seen when the server ends it. */
  private async watchFrom(rv: string, signal: AbortSignal): Promise<string> {
    const base = this.opts.watchTimeoutS ?? 300;
    const timeoutS = Math.floor(base * (1 + Math.random()));
    let latest = rv;
    await this.client.watch<PodObject>(
      PODS_PATH,
      { fieldSelector: this.selector, resourceVersion: rv, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutS) },
      signal,
      // Bookmarks arrive about once a minute; twice the request's length without a byte is a dead connection.
      (timeoutS + 60) * 1000,
      (e: WatchEvent<PodObject>) => {
        const v = e.object?.metadata?.resourceVersion;
        if (v) latest = v;
        if (e.type === 'ADDED' || e.type === 'MODIFIED') this.store.upsert(e.object);
        else if (e.type === 'DELETED') this.store.delete(e.object);
      },
    );
    return latest;
  }

  private report(err: unknown, phase: 'list' | 'watch', gone: boolean): void {
    const status = err instanceof KubeApiError && err.statusCode > 0 ? err.statusCode : undefined;
    this.opts.metrics?.error(status !== undefined ? `http_${status}` : phase);
    if (gone) {
      this.log.info({ err: errorMessage(err) }, 'Pod watch expired (410 Gone); relisting');
    } else if (status === 401) {
      this.log.error({ err: errorMessage(err), server: this.opts.connection.server, source: this.opts.connection.source }, 'Pod list/watch unauthorized: the API server rejects the agent\'s credentials (service-account token or kubeconfig user)');
    } else if (status === 403) {
      this.log.error({ err: errorMessage(err) }, 'Pod watch forbidden: the agent ServiceAccount needs "list" and "watch" on "pods" (apiGroup "") cluster-wide');
    } else {
      this.log.warn({ err: errorMessage(err), phase }, 'Pod list/watch failed; relisting with backoff');
    }
  }
}
