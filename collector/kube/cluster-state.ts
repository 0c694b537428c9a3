/**
 * The collector's cluster state: one restartable informer per watched kind, the
 * kube-state-metrics-compatible series appended at a fixed interval, events and
 * object history in the cluster-state database, and the views the HTTP API serves.
 * Wire it in `main.ts` with {@link discoverApiServer} and `kubeApiPlugin`.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { Counter, Gauge, type Registry } from 'prom-client';
import { errorMessage, noopLogger, type Logger, type Service } from '../../shared/index.js';
import type { Appendable, Queryable } from '../storage/interface.js';
import { KubeDb, type EventQuery, type HistoryEntry, type KubeEventRecord } from './kube-db.js';
import { normaliseEvent } from './events.js';
import { diffSnapshots, snapshotOf, statusSummary } from './history.js';
import { LAST_APPLIED } from './kube-client.js';
import type { KsmOptions, Obj } from './ksm/index.js';
import { WATCHED_RESOURCES, findResource, type WatchedResource } from './resources.js';
import { KubeSeriesWriter, type ExtraSample } from './series-writer.js';
import { buildTopology, readContainerUsage, type Topology } from './topology.js';
import { ResourceWatcher } from './watcher.js';

export interface ClusterStateOptions {
  /** Where the API server is (from {@link discoverApiServer}). */
  kc: KubeConfig;
  /** The `cluster` label of every series and the cluster of every stored record. */
  cluster: string;
  /** Where the series go. */
  storage: Appendable;
  /** Where the topology reads container CPU/memory use; without it, use is null. */
  queryable?: Queryable;
  /** Path of the cluster-state SQLite file (e.g. `<dataDir>/kube.db`), or `:memory:`. */
  dbPath: string;
  /** Interval between series flushes, ms. Default 30000. */
  intervalMs?: number;
  /** `job` label of the series. Default `kube-state-metrics`. */
  job?: string;
  /** Label/annotation allow-lists, as kube-state-metrics' flags. */
  ksm?: KsmOptions;
  /** Kinds to watch (plurals); default all of {@link WATCHED_RESOURCES}. */
  resources?: readonly string[];
  /** History entries kept per object (default 100) and their retention (default 30 d, ms). */
  historyPerObject?: number;
  historyRetentionMs?: number;
  /** Event retention, ms. Default 7 days. */
  eventsRetentionMs?: number;
  /** How long `start()` waits for every kind's first list before going on, ms. Default 30000. */
  syncTimeoutMs?: number;
  /** Restart backoff after watch errors, ms. Defaults 1000 / 30000. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Replaces the backoff sleep in tests. */
  delayFn?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Self-metrics `kubepulse_kube_watch_up` and `kubepulse_kube_events_total` are also registered here when given. */
  registry?: Registry;
  logger?: Logger;
  /** Clock, epoch ms. Default Date.now. */
  now?: () => number;
}

/** The current view of one object, as `GET /api/v1/objects/...` answers. */
export interface ObjectView {
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  generation: number | null;
  creationTimestamp: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  owners: Array<{ kind: string; name: string; controller: boolean }>;
  status: Record<string, unknown>;
  /** Epoch ms of the deletion when the object is gone (kept until the history retention). */
  deleted: number | null;
}

/** See the module comment. */
export class ClusterState implements Service {
  readonly cluster: string;
  private readonly opts: ClusterStateOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly db: KubeDb;
  private readonly writer: KubeSeriesWriter;
  private readonly watchers = new Map<string, ResourceWatcher>();
  private readonly eventCounts = new Map<string, { labels: Record<string, string>; n: number }>();
  private timer: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  private readonly upGauge?: Gauge;
  private readonly eventsCounter?: Counter;
  private stopped = false;

  constructor(opts: ClusterStateOptions) {
    this.opts = opts;
    this.cluster = opts.cluster;
    this.log = (opts.logger ?? noopLogger()).child({ component: 'kube' });
    this.now = opts.now ?? Date.now;
    this.db = new KubeDb({
      path: opts.dbPath,
      historyPerObject: opts.historyPerObject,
      historyRetentionMs: opts.historyRetentionMs,
      eventsRetentionMs: opts.eventsRetentionMs,
    });
    this.writer = new KubeSeriesWriter({ cluster: opts.cluster, job: opts.job, ksm: opts.ksm, logger: this.log });
    if (opts.registry) {
      this.upGauge = new Gauge({ name: 'kubepulse_kube_watch_up', help: 'Whether the watch of a Kubernetes resource is established (1) or failing (0).', labelNames: ['resource'], registers: [opts.registry] });
      this.eventsCounter = new Counter({ name: 'kubepulse_kube_events_total', help: 'Kubernetes event occurrences seen, by type, reason, involved kind and namespace.', labelNames: ['type', 'reason', 'kind', 'namespace'], registers: [opts.registry] });
    }
    const names = opts.resources ?? WATCHED_RESOURCES.map((r) => r.resource);
    for (const n of names) {
      const r = findResource(n);
      if (!r) throw new Error(`unknown Kubernetes resource to watch: ${JSON.stringify(n)} (known: ${WATCHED_RESOURCES.map((x) => x.resource).join(', ')})`);
      this.watchers.set(r.resource, new ResourceWatcher({
        kc: opts.kc,
        resource: r,
        logger: this.log,
        backoffBaseMs: opts.backoffBaseMs,
        backoffMaxMs: opts.backoffMaxMs,
        delayFn: opts.delayFn,
        handlers: {
          upsert: (res, o) => this.guard('upsert', () => this.onUpsert(res, o)),
          remove: (res, o) => this.guard('remove', () => this.onRemove(res, o)),
          synced: (res) => this.guard('synced', () => this.onSynced(res)),
          up: (res, up) => this.upGauge?.set({ resource: res.resource }, up ? 1 : 0),
        },
      }));
      this.upGauge?.set({ resource: r.resource }, 0);
    }
  }

  /** Starts every informer; resolves when all have listed once or after `syncTimeoutMs`. Then flushes every interval. */
  async start(): Promise<void> {
    const all = Promise.all([...this.watchers.values()].map((w) => w.start()));
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), this.opts.syncTimeoutMs ?? 30_000)));
    const res = await Promise.race([all, timeout]);
    clearTimeout(t);
    if (res === 'timeout') {
      const pending = [...this.watchers.values()].filter((w) => !w.up).map((w) => w.resource.resource);
      this.log.warn({ pending }, 'Some Kubernetes resources have not listed yet; continuing (check RBAC: get/list/watch)');
    } else this.log.info({ resources: this.watchers.size }, 'Cluster state synced');
    if (this.stopped) return;
    this.flushSafe();
    const interval = this.opts.intervalMs ?? 30_000;
    this.timer = setInterval(() => this.flushSafe(), interval);
    this.timer.unref();
  }

  /** Stops informers and the timer, then closes the database. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.watchers.values()].map((w) => w.stop()));
    this.db.close();
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err: errorMessage(err), what }, 'handling a Kubernetes object failed');
    }
  }

  private flushSafe(): void {
    try {
      this.flush();
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'appending cluster-state series failed');
    }
  }

  /** Appends the current series once (the timer calls this); returns what was written. */
  flush(): { appended: number; stale: number } {
    const now = this.now();
    const extra: ExtraSample[] = [];
    for (const w of this.watchers.values()) {
      extra.push({ name: 'kubepulse_kube_watch_up', labels: { resource: w.resource.resource }, value: w.up ? 1 : 0, type: 'gauge', help: 'Whether the watch of a Kubernetes resource is established (1) or failing (0).' });
    }
    for (const e of this.eventCounts.values()) {
      extra.push({ name: 'kubepulse_kube_events_total', labels: e.labels, value: e.n, type: 'counter', help: 'Kubernetes event occurrences seen, by type, reason, involved kind and namespace.' });
    }
    const r = this.writer.flush(this.opts.storage, now, extra);
    if (now - this.lastPrune > 3_600_000) {
      this.lastPrune = now;
      this.db.prune(now);
    }
    return r;
  }

  private onUpsert(r: WatchedResource, o: Obj): void {
    this.writer.upsert(r, o);
    if (r.resource === 'events') {
      const ev = normaliseEvent(o, this.cluster, this.now());
      if (!ev) return;
      const { delta } = this.db.upsertEvent(ev);
      if (delta > 0) {
        const labels = { type: ev.type, reason: ev.reason, kind: ev.kind, namespace: ev.objectNamespace };
        const k = `${labels.type}\xff${labels.reason}\xff${labels.kind}\xff${labels.namespace}`;
        const c = this.eventCounts.get(k) ?? { labels, n: 0 };
        c.n += delta;
        this.eventCounts.set(k, c);
        this.eventsCounter?.inc(labels, delta);
      }
      return;
    }
    if (r.history) {
      const md = o.metadata ?? {};
      this.db.recordObject(
        this.cluster,
        {
          kind: r.kind,
          namespace: r.namespaced ? md.namespace ?? '' : '',
          name: md.name ?? '',
          uid: md.uid ?? '',
          resourceVersion: String(md.resourceVersion ?? ''),
          generation: typeof md.generation === 'number' ? md.generation : null,
        },
        snapshotOf(r.kind, o),
        this.viewOf(r, o),
        this.now(),
        diffSnapshots,
      );
    }
  }

  private onRemove(r: WatchedResource, o: Obj): void {
    this.writer.remove(r, o);
    if (r.history) {
      const md = o.metadata ?? {};
      this.db.recordDeleted(this.cluster, r.kind, r.namespaced ? md.namespace ?? '' : '', md.name ?? '', String(md.resourceVersion ?? ''), this.now());
    }
  }

  /** After a (re)list, objects the database thinks alive but the cache lacks were deleted meanwhile. */
  private onSynced(r: WatchedResource): void {
    if (!r.history) return;
    const w = this.watchers.get(r.resource)!;
    for (const { namespace, name } of this.db.liveObjects(this.cluster, r.kind)) {
      if (!w.get(name, r.namespaced ? namespace : undefined)) this.db.recordDeleted(this.cluster, r.kind, namespace, name, '', this.now());
    }
  }

  private viewOf(r: WatchedResource, o: Obj): Record<string, unknown> {
    const md = o.metadata ?? {};
    const annotations = { ...(md.annotations ?? {}) };
    delete annotations[LAST_APPLIED];
    const v: ObjectView = {
      kind: r.kind,
      namespace: r.namespaced ? md.namespace ?? '' : '',
      name: md.name ?? '',
      uid: md.uid ?? '',
      resourceVersion: String(md.resourceVersion ?? ''),
      generation: typeof md.generation === 'number' ? md.generation : null,
      creationTimestamp: md.creationTimestamp ? String(md.creationTimestamp) : null,
      labels: { ...(md.labels ?? {}) },
      annotations,
      owners: ((md.ownerReferences ?? []) as Obj[]).map((x) => ({ kind: x.kind, name: x.name, controller: x.controller === true })),
      status: statusSummary(r.kind, o),
      deleted: null,
    };
    return v as unknown as Record<string, unknown>;
  }

  // ---- views for the HTTP API ----------------------------------------------------

  /** Watch state by resource. */
  watchUp(): Record<string, boolean> {
    return Object.fromEntries([...this.watchers].map(([k, w]) => [k, w.up]));
  }

  /** Cached objects of one watched kind (plural), or undefined when not watched. */
  cached(resource: string): readonly Obj[] | undefined {
    return this.watchers.get(resource)?.list();
  }

  /** Stored events matching `q` (cluster forced to ours). */
  events(q: EventQuery): { events: KubeEventRecord[]; total: number } {
    return this.db.queryEvents({ ...q, cluster: this.cluster });
  }

  /**
   * The current view of an object: live from the cache, else the last recorded view of
   * a deleted one (with `deleted` set); undefined when never seen. `namespace` is ''
   * for cluster-scoped kinds.
   */
  object(r: WatchedResource, namespace: string, name: string): ObjectView | undefined {
    const w = this.watchers.get(r.resource);
    const o = w?.get(name, r.namespaced ? namespace : undefined);
    if (o) return this.viewOf(r, o) as unknown as ObjectView;
    const row = this.db.getObject(this.cluster, r.kind, namespace, name);
    if (!row) return undefined;
    return { ...(row.view as unknown as ObjectView), deleted: row.deleted };
  }

  /** Recorded changes of an object, newest first. */
  history(r: WatchedResource, namespace: string, name: string, limit = 100): HistoryEntry[] {
    return this.db.history(this.cluster, r.kind, namespace, name, limit);
  }

  /** Is `resource` (plural) watched by this instance? */
  watches(resource: string): boolean {
    return this.watchers.has(resource);
  }

  /** The topology, optionally limited to a namespace and/or a node. */
  topology(filter: { namespace?: string; node?: string } = {}): Topology {
    const usage = this.opts.queryable ? readContainerUsage(this.opts.queryable, this.now(), this.cluster) : new Map();
    return buildTopology({
      cluster: this.cluster,
      nodes: this.cached('nodes') ?? [],
      pods: this.cached('pods') ?? [],
      replicaSets: this.cached('replicasets') ?? [],
      jobs: this.cached('jobs') ?? [],
      usage,
      ...filter,
    });
  }
}
