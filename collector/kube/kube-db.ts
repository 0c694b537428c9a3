/**
 * The cluster-state database: Kubernetes events (deduplicated by UID), the last
 * recorded snapshot of every tracked object and its change history. One SQLite file of
 * its own (e.g. `<dataDir>/kube.db`), separate from the TSDB. Synchronous
 * better-sqlite3 calls; one writer (the collector process).
 */
import Database from 'better-sqlite3';
import type { DiffOp, Snapshot } from './history.js';

/** An event, normalised from `events.k8s.io/v1` or `core/v1`. Times in epoch ms. */
export interface KubeEventRecord {
  uid: string;
  cluster: string;
  /** Namespace of the Event object (the involved object's, or `default` for cluster-scoped ones). */
  namespace: string;
  /** Kind, name, namespace and UID of the involved ("regarding") object. */
  kind: string;
  name: string;
  objectNamespace: string;
  objectUid: string;
  reason: string;
  type: string;
  message: string;
  source: string;
  firstTime: number;
  lastTime: number;
  count: number;
}

/** Filters of {@link KubeDb.queryEvents}; all optional, times inclusive ms on `lastTime`. */
export interface EventQuery {
  cluster?: string;
  namespace?: string;
  kind?: string;
  name?: string;
  type?: string;
  reason?: string;
  start?: number;
  end?: number;
  /** Page size (1–1000, default 100) and offset of the page. */
  limit?: number;
  offset?: number;
}

/** One recorded change; `change` is `added` (first seen), `updated` or `deleted`. */
export interface HistoryEntry {
  time: number;
  change: 'added' | 'updated' | 'deleted';
  uid: string;
  resourceVersion: string;
  generation: number | null;
  diff: DiffOp[];
}

/** The stored row of a tracked object. */
export interface StoredObject {
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  generation: number | null;
  snapshot: Snapshot;
  /** Metadata and status summary as served by the objects API. */
  view: Record<string, unknown>;
  updated: number;
  deleted: number | null;
}

export interface KubeDbOptions {
  /** File path, or `:memory:`. */
  path: string;
  /** Most history entries kept per object. Default 100. */
  historyPerObject?: number;
  /** History entries older than this are pruned, ms. Default 30 days. */
  historyRetentionMs?: number;
  /** Events whose lastTime is older than this are pruned, ms. Default 7 days. */
  eventsRetentionMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  uid TEXT PRIMARY KEY, cluster TEXT NOT NULL, namespace TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
  object_namespace TEXT NOT NULL, object_uid TEXT NOT NULL, reason TEXT NOT NULL, type TEXT NOT NULL,
  message TEXT NOT NULL, source TEXT NOT NULL, first_time INTEGER NOT NULL, last_time INTEGER NOT NULL, count INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS events_time ON events (cluster, last_time);
CREATE INDEX IF NOT EXISTS events_object ON events (cluster, kind, object_namespace, name);
CREATE TABLE IF NOT EXISTS objects (
  cluster TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, uid TEXT NOT NULL,
  resource_version TEXT NOT NULL, generation INTEGER, snapshot TEXT NOT NULL, view TEXT NOT NULL,
  updated INTEGER NOT NULL, deleted INTEGER, PRIMARY KEY (cluster, kind, namespace, name));
CREATE TABLE IF NOT EXISTS history (
  id INTEGER PRIMARY KEY AUTOINCREMENT, cluster TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL,
  name TEXT NOT NULL, uid TEXT NOT NULL, time INTEGER NOT NULL, change TEXT NOT NULL, resource_version TEXT NOT NULL,
  generation INTEGER, diff TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_object ON history (cluster, kind, namespace, name, id);
CREATE INDEX IF NOT EXISTS history_time ON history (time);
`;

interface EventRow {
  uid: string;
  cluster: string;
  namespace: string;
  kind: string;
  name: string;
  object_namespace: string;
  object_uid: string;
  reason: string;
  type: string;
  message: string;
  source: string;
  first_time: number;
  last_time: number;
  count: number;
}

/** See the module comment. */
export class KubeDb {
  private readonly db: Database.Database;
  private readonly perObject: number;
  private readonly historyRetentionMs: number;
  private readonly eventsRetentionMs: number;
  private readonly stmts;

  constructor(opts: KubeDbOptions) {
    try {
      this.db = new Database(opts.path);
    } catch (cause) {
      throw new Error(`opening cluster-state database ${opts.path}`, { cause });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.perObject = opts.historyPerObject ?? 100;
    this.historyRetentionMs = opts.historyRetentionMs ?? 30 * 86_400_000;
    this.eventsRetentionMs = opts.eventsRetentionMs ?? 7 * 86_400_000;
    this.stmts = {
      getEvent: this.db.prepare<[string], { count: number }>('SELECT count FROM events WHERE uid = ?'),
      putEvent: this.db.prepare(`INSERT INTO events VALUES (@uid, @cluster, @namespace, @kind, @name, @objectNamespace, @objectUid,
        @reason, @type, @message, @source, @firstTime, @lastTime, @count)
        ON CONFLICT(uid) DO UPDATE SET message = excluded.message, last_time = excluded.last_time, count = excluded.count,
        first_time = MIN(first_time, excluded.first_time)`),
      getObject: this.db.prepare<[string, string, string, string], Record<string, unknown>>(
        'SELECT * FROM objects WHERE cluster = ? AND kind = ? AND namespace = ? AND name = ?',
      ),
      putObject: this.db.prepare(`INSERT INTO objects VALUES (@cluster, @kind, @namespace, @name, @uid, @rv, @generation, @snapshot, @view, @updated, NULL)
        ON CONFLICT(cluster, kind, namespace, name) DO UPDATE SET uid = excluded.uid, resource_version = excluded.resource_version,
        generation = excluded.generation, snapshot = excluded.snapshot, view = excluded.view, updated = excluded.updated, deleted = NULL`),
      touchView: this.db.prepare('UPDATE objects SET view = ?, resource_version = ?, updated = ? WHERE cluster = ? AND kind = ? AND namespace = ? AND name = ?'),
      markDeleted: this.db.prepare('UPDATE objects SET deleted = ? WHERE cluster = ? AND kind = ? AND namespace = ? AND name = ?'),
      addHistory: this.db.prepare(`INSERT INTO history (cluster, kind, namespace, name, uid, time, change, resource_version, generation, diff)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      trimHistory: this.db.prepare(`DELETE FROM history WHERE cluster = ? AND kind = ? AND namespace = ? AND name = ? AND id <= (
        SELECT id FROM history WHERE cluster = ? AND kind = ? AND namespace = ? AND name = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`),
      history: this.db.prepare<[string, string, string, string, number], Record<string, unknown>>(
        'SELECT * FROM history WHERE cluster = ? AND kind = ? AND namespace = ? AND name = ? ORDER BY id DESC LIMIT ?',
      ),
      live: this.db.prepare<[string, string], { namespace: string; name: string }>(
        'SELECT namespace, name FROM objects WHERE cluster = ? AND kind = ? AND deleted IS NULL',
      ),
    };
  }

  /** Stores or updates an event; `delta` is how many new occurrences it brought (0 for a repeat). */
  upsertEvent(ev: KubeEventRecord): { isNew: boolean; delta: number } {
    const prev = this.stmts.getEvent.get(ev.uid);
    this.stmts.putEvent.run(ev);
    if (!prev) return { isNew: true, delta: Math.max(1, ev.count) };
    return { isNew: false, delta: Math.max(0, ev.count - prev.count) };
  }

  /** Events matching `q`, newest (by lastTime) first, with the total match count. */
  queryEvents(q: EventQuery): { events: KubeEventRecord[]; total: number } {
    const where: string[] = [];
    const args: unknown[] = [];
    const eq = (col: string, v: string | undefined) => {
      if (v !== undefined && v !== '') {
        where.push(`${col} = ?`);
        args.push(v);
      }
    };
    eq('cluster', q.cluster);
    eq('object_namespace', q.namespace);
    eq('kind', q.kind);
    eq('name', q.name);
    eq('type', q.type);
    eq('reason', q.reason);
    if (q.start !== undefined) {
      where.push('last_time >= ?');
      args.push(q.start);
    }
    if (q.end !== undefined) {
      where.push('first_time <= ?');
      args.push(q.end);
    }
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM events ${w}`).get(...args) as { n: number }).n;
    const limit = Math.min(1000, Math.max(1, q.limit ?? 100));
    const rows = this.db
      .prepare(`SELECT * FROM events ${w} ORDER BY last_time DESC, uid LIMIT ? OFFSET ?`)
      .all(...args, limit, Math.max(0, q.offset ?? 0)) as EventRow[];
    return {
      total,
      events: rows.map((r) => ({
        uid: r.uid,
        cluster: r.cluster,
        namespace: r.namespace,
        kind: r.kind,
        name: r.name,
        objectNamespace: r.object_namespace,
        objectUid: r.object_uid,
        reason: r.reason,
        type: r.type,
        message: r.message,
        source: r.source,
        firstTime: r.first_time,
        lastTime: r.last_time,
        count: r.count,
      })),
    };
  }

  /** The stored row of an object (deleted ones too), or undefined. */
  getObject(cluster: string, kind: string, namespace: string, name: string): StoredObject | undefined {
    const r = this.stmts.getObject.get(cluster, kind, namespace, name);
    if (!r) return undefined;
    return {
      kind: r.kind as string,
      namespace: r.namespace as string,
      name: r.name as string,
      uid: r.uid as string,
      resourceVersion: r.resource_version as string,
      generation: r.generation as number | null,
      snapshot: JSON.parse(r.snapshot as string) as Snapshot,
      view: JSON.parse(r.view as string) as Record<string, unknown>,
      updated: r.updated as number,
      deleted: r.deleted as number | null,
    };
  }

  /**
   * Records the current state of an object and, when its snapshot differs from the
   * stored one (or it is new, or was deleted before), a history entry; returns the entry
   * or undefined for a no-op (e.g. a resync or a status-only change).
   */
  recordObject(
    cluster: string,
    o: { kind: string; namespace: string; name: string; uid: string; resourceVersion: string; generation: number | null },
    snapshot: Snapshot,
    view: Record<string, unknown>,
    now: number,
    diff: (a: Snapshot, b: Snapshot) => DiffOp[],
  ): HistoryEntry | undefined {
    return this.db.transaction((): HistoryEntry | undefined => {
      const prev = this.getObject(cluster, o.kind, o.namespace, o.name);
      const changes = prev && prev.deleted === null && prev.uid === o.uid ? diff(prev.snapshot, snapshot) : undefined;
      if (changes && changes.length === 0) {
        this.stmts.touchView.run(JSON.stringify(view), o.resourceVersion, now, cluster, o.kind, o.namespace, o.name);
        return undefined;
      }
      this.stmts.putObject.run({
        cluster,
        kind: o.kind,
        namespace: o.namespace,
        name: o.name,
        uid: o.uid,
        rv: o.resourceVersion,
        generation: o.generation,
        snapshot: JSON.stringify(snapshot),
        view: JSON.stringify(view),
        updated: now,
      });
      const entry: HistoryEntry = {
        time: now,
        change: changes ? 'updated' : 'added',
        uid: o.uid,
        resourceVersion: o.resourceVersion,
        generation: o.generation,
        diff: changes ?? diff({ labels: {}, annotations: {}, spec: {} }, snapshot),
      };
      this.addHistory(cluster, o.kind, o.namespace, o.name, entry);
      return entry;
    })();
  }

  /** Marks an object deleted and records a `deleted` entry; no-op when unknown or already deleted. */
  recordDeleted(cluster: string, kind: string, namespace: string, name: string, resourceVersion: string, now: number): HistoryEntry | undefined {
    const prev = this.getObject(cluster, kind, namespace, name);
    if (!prev || prev.deleted !== null) return undefined;
    const entry: HistoryEntry = { time: now, change: 'deleted', uid: prev.uid, resourceVersion, generation: prev.generation, diff: [] };
    this.db.transaction(() => {
      this.stmts.markDeleted.run(now, cluster, kind, namespace, name);
      this.addHistory(cluster, kind, namespace, name, entry);
    })();
    return entry;
  }

  private addHistory(cluster: string, kind: string, namespace: string, name: string, e: HistoryEntry): void {
    this.stmts.addHistory.run(cluster, kind, namespace, name, e.uid, e.time, e.change, e.resourceVersion, e.generation, JSON.stringify(e.diff));
    this.stmts.trimHistory.run(cluster, kind, namespace, name, cluster, kind, namespace, name, this.perObject);
  }

  /** The history of an object, newest first, at most `limit` entries. */
  history(cluster: string, kind: string, namespace: string, name: string, limit = 100): HistoryEntry[] {
    return this.stmts.history.all(cluster, kind, namespace, name, limit).map((r) => ({
      time: r.time as number,
      change: r.change as HistoryEntry['change'],
      uid: r.uid as string,
      resourceVersion: r.resource_version as string,
      generation: r.generation as number | null,
      diff: JSON.parse(r.diff as string) as DiffOp[],
    }));
  }

  /** `namespace/name` of every object of `kind` not marked deleted. */
  liveObjects(cluster: string, kind: string): Array<{ namespace: string; name: string }> {
    return this.stmts.live.all(cluster, kind);
  }

  /** Drops history and events past their retention. Returns the rows removed. */
  prune(now: number): { history: number; events: number } {
    const h = this.db.prepare('DELETE FROM history WHERE time < ?').run(now - this.historyRetentionMs).changes;
    const e = this.db.prepare('DELETE FROM events WHERE last_time < ?').run(now - this.eventsRetentionMs).changes;
    this.db.prepare('DELETE FROM objects WHERE deleted IS NOT NULL AND deleted < ?').run(now - this.historyRetentionMs);
    return { history: h, events: e };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
