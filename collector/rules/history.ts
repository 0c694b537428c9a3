/**
 * Alert history in SQLite: one row per alert episode (pending → firing → resolved) with
 * its labels, annotations, times and first/peak/last value, plus one row per notification
 * attempt with the receiver's answer. Kept apart from the TSDB files. Also the source of
 * the `for` state after a restart (open episodes and when they were last seen).
 */
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import type { Labels } from '../../shared/index.js';
import { labelsToObject } from '../../shared/index.js';
import type { Matcher } from '../storage/interface.js';
import { matchLabels } from '../storage/matchers.js';
import { labelsFromObject } from '../../shared/index.js';
import { alertFingerprint } from '../notifier/alert.js';
import { AlertState, type AlertTransition, type ActiveAlert } from './alerting-rule.js';

export interface HistoryEpisode {
  id: number;
  fingerprint: string;
  rule: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** 'pending' | 'firing' | 'resolved' | 'inactive' (pending that never fired). */
  state: string;
  pendingAt: number;
  firedAt: number | null;
  resolvedAt: number | null;
  lastSeenAt: number;
  firstValue: number | null;
  peakValue: number | null;
  lastValue: number | null;
  notifications: HistoryNotification[];
}

export interface HistoryNotification {
  receiver: string;
  t: number;
  status: 'firing' | 'resolved';
  /** HTTP status code, 0 for a network error or timeout. */
  code: number;
  error: string;
}

export interface HistoryQuery {
  /** Inclusive ms bounds: episodes overlapping [start, end]. */
  start?: number;
  end?: number;
  matchers?: readonly Matcher[];
  state?: string;
  limit?: number;
  /** Opaque cursor returned as `next` by the previous page. */
  after?: number;
}

export interface AlertHistoryOptions {
  /** A file path, ':memory:', or an open better-sqlite3 handle. */
  db: string | Db;
  externalLabels?: Readonly<Record<string, string>>;
}

function num(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

interface Written {
  readonly id: number;
  readonly value: number;
  readonly peak: number;
  readonly annotations: Record<string, string>;
}

export class AlertHistory {
  readonly db: Db;
  private readonly ownDb: boolean;
  private readonly ext: Readonly<Record<string, string>>;
  private readonly stmts;
  private readonly fps = new WeakMap<Labels, string>();
  /** The open episode of an alert and what was last written to it. */
  private readonly written = new WeakMap<ActiveAlert, Written>();

  constructor(opts: AlertHistoryOptions) {
    this.ownDb = typeof opts.db === 'string';
    this.db = typeof opts.db === 'string' ? new Database(opts.db) : opts.db;
    this.ext = opts.externalLabels ?? {};
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS alert_episodes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        fingerprint TEXT NOT NULL,
        rule TEXT NOT NULL,
        labels TEXT NOT NULL,
        annotations TEXT NOT NULL,
        state TEXT NOT NULL,
        pending_at INTEGER NOT NULL,
        fired_at INTEGER,
        resolved_at INTEGER,
        last_seen_at INTEGER NOT NULL,
        first_value REAL,
        peak_value REAL,
        last_value REAL
      );
      CREATE INDEX IF NOT EXISTS alert_episodes_fp ON alert_episodes (fingerprint, id);
      CREATE INDEX IF NOT EXISTS alert_episodes_open ON alert_episodes (state) WHERE state IN ('pending', 'firing');
      -- Restoring after a restart asks for the open episodes of each rule in turn.
      CREATE INDEX IF NOT EXISTS alert_episodes_open_rule ON alert_episodes (rule) WHERE state IN ('pending', 'firing');
      CREATE INDEX IF NOT EXISTS alert_episodes_time ON alert_episodes (pending_at);
      CREATE TABLE IF NOT EXISTS alert_notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        episode_id INTEGER,
        fingerprint TEXT NOT NULL,
        receiver TEXT NOT NULL,
        t INTEGER NOT NULL,
        status TEXT NOT NULL,
        code INTEGER NOT NULL,
        error TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS alert_notifications_ep ON alert_notifications (episode_id);
    `);
    this.stmts = {
      open: this.db.prepare(
        `SELECT id FROM alert_episodes WHERE fingerprint = ? AND state IN ('pending','firing') ORDER BY id DESC LIMIT 1`,
      ),
      latest: this.db.prepare(`SELECT id FROM alert_episodes WHERE fingerprint = ? ORDER BY id DESC LIMIT 1`),
      insert: this.db.prepare(
        `INSERT INTO alert_episodes (fingerprint, rule, labels, annotations, state, pending_at, last_seen_at, first_value, peak_value, last_value)
         VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)`,
      ),
      // A restored alert fires again after a restart: keep the first firing time.
      fire: this.db.prepare(`UPDATE alert_episodes SET state = 'firing', fired_at = COALESCE(fired_at, ?), last_seen_at = ? WHERE id = ?`),
      close: this.db.prepare(`UPDATE alert_episodes SET state = ?, resolved_at = ?, last_seen_at = ? WHERE id = ?`),
      touch: this.db.prepare(
        `UPDATE alert_episodes SET last_seen_at = ?, last_value = ?, peak_value = ?, annotations = ? WHERE id = ?`,
      ),
      touchOpen: this.db.prepare(
        `UPDATE alert_episodes SET last_seen_at = ?, last_value = ?, peak_value = ?, annotations = ? WHERE id = ? AND state IN ('pending','firing')`,
      ),
      seenMany: this.db.prepare(
        `UPDATE alert_episodes SET last_seen_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND state IN ('pending','firing')`,
      ),
      activeAt: this.db.prepare(`UPDATE alert_episodes SET pending_at = ? WHERE id = ?`),
      notify: this.db.prepare(
        `INSERT INTO alert_notifications (episode_id, fingerprint, receiver, t, status, code, error) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      openAll: this.db.prepare(`SELECT * FROM alert_episodes WHERE state IN ('pending','firing') AND rule = ?`),
      notesOf: this.db.prepare(`SELECT * FROM alert_notifications WHERE episode_id = ? ORDER BY id`),
    };
  }

  /** The fingerprint the notifier sees for an alert: labels plus external labels. */
  fingerprintOf(a: ActiveAlert): string {
    // An alert's label array never changes: hash it once, not every round.
    let fp = this.fps.get(a.labels);
    if (fp === undefined) {
      fp = alertFingerprint({ ...this.ext, ...labelsToObject(a.labels) });
      this.fps.set(a.labels, fp);
    }
    return fp;
  }

  /** Records one evaluation of a rule: its transitions and the values of its active alerts. */
  record(rule: string, transitions: readonly AlertTransition[], active: readonly ActiveAlert[], t: number): void {
    this.db.transaction(() => {
      for (const tr of transitions) {
        const fp = this.fingerprintOf(tr.alert);
        const open = this.stmts.open.get(fp) as { id: number } | undefined;
        if (tr.to === AlertState.PENDING) {
          if (open) continue;
          const a = tr.alert;
          this.stmts.insert.run(
            fp,
            rule,
            JSON.stringify(labelsToObject(a.labels)),
            JSON.stringify(a.annotations),
            a.activeAt,
            t,
            num(a.firstValue),
            num(a.peakValue),
            num(a.value),
          );
        } else if (tr.to === AlertState.FIRING) {
          if (open) this.stmts.fire.run(t, t, open.id);
        } else if (open) {
          this.stmts.close.run(tr.from === AlertState.FIRING ? 'resolved' : 'inactive', t, t, open.id);
        }
      }
      this.touchAll(active, t);
    })();
  }

  /**
   * Writes `last_seen_at` and the latest value, peak and annotations of every active
   * alert's open episode. The episode id is remembered per alert, and alerts whose
   * value, peak and annotations are what was last written share one statement that only
   * moves `last_seen_at`: per-alert statements made this the largest part of a round with
   * tens of thousands of active alerts. An episode closed or replaced behind the cache's
   * back (e.g. by a rule of the same name and labels) is looked up again.
   */
  private touchAll(active: readonly ActiveAlert[], t: number): void {
    const same: ActiveAlert[] = [];
    const ids: number[] = [];
    for (const a of active) {
      if (a.state === AlertState.INACTIVE) continue;
      const w = this.written.get(a);
      if (w && Object.is(w.value, a.value) && Object.is(w.peak, a.peakValue) && w.annotations === a.annotations) {
        same.push(a);
        ids.push(w.id);
        continue;
      }
      if (w && this.stmts.touchOpen.run(t, num(a.value), num(a.peakValue), JSON.stringify(a.annotations), w.id).changes === 1) {
        this.remember(a, w.id);
        continue;
      }
      this.touchSlow(a, t);
    }
    if (ids.length && this.stmts.seenMany.run(t, JSON.stringify(ids)).changes !== ids.length) {
      for (const a of same) this.touchSlow(a, t);
    }
  }

  private touchSlow(a: ActiveAlert, t: number): void {
    this.written.delete(a);
    const open = this.stmts.open.get(this.fingerprintOf(a)) as { id: number } | undefined;
    if (!open) return;
    this.stmts.touch.run(t, num(a.value), num(a.peakValue), JSON.stringify(a.annotations), open.id);
    this.remember(a, open.id);
  }

  private remember(a: ActiveAlert, id: number): void {
    this.written.set(a, { id, value: a.value, peak: a.peakValue, annotations: a.annotations });
  }

  /** Moves the stored start of open episodes after the `for` state was restored. */
  updateActiveAt(active: readonly ActiveAlert[]): void {
    this.db.transaction(() => {
      for (const a of active) {
        const open = this.stmts.open.get(this.fingerprintOf(a)) as { id: number } | undefined;
        if (open) this.stmts.activeAt.run(a.activeAt, open.id);
      }
    })();
  }

  /** Open episodes of `rule` by fingerprint: when they went pending and were last seen. */
  openEpisodes(rule: string): Map<string, { activeAt: number; downAt: number }> {
    const out = new Map<string, { activeAt: number; downAt: number }>();
    for (const r of this.stmts.openAll.all(rule) as Array<{ fingerprint: string; pending_at: number; last_seen_at: number }>) {
      out.set(r.fingerprint, { activeAt: r.pending_at, downAt: r.last_seen_at });
    }
    return out;
  }

  /**
   * Closes open episodes of `rule` whose alert is no longer active (it ended while the
   * collector was down); called once after a restart. Returns how many were closed.
   */
  closeVanished(rule: string, activeFingerprints: ReadonlySet<string>, t: number): number {
    let n = 0;
    this.db.transaction(() => {
      for (const r of this.stmts.openAll.all(rule) as Array<{ id: number; fingerprint: string; state: string }>) {
        if (activeFingerprints.has(r.fingerprint)) continue;
        this.stmts.close.run(r.state === 'firing' ? 'resolved' : 'inactive', t, t, r.id);
        n++;
      }
    })();
    return n;
  }

  /** Records a delivery attempt; linked to the alert's latest episode. */
  recordNotification(fp: string, n: HistoryNotification): void {
    const ep = this.stmts.latest.get(fp) as { id: number } | undefined;
    this.stmts.notify.run(ep?.id ?? null, fp, n.receiver, n.t, n.status, n.code, n.error);
  }

  /** Episodes matching the query, newest first, with their notifications; `next` pages on. */
  query(q: HistoryQuery): { episodes: HistoryEpisode[]; next?: number } {
    const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.end !== undefined) {
      where.push('pending_at <= ?');
      args.push(q.end);
    }
    if (q.start !== undefined) {
      where.push('(resolved_at IS NULL OR resolved_at >= ?)');
      args.push(q.start);
    }
    if (q.state) {
      where.push('state = ?');
      args.push(q.state);
    }
    if (q.after !== undefined) {
      where.push('id < ?');
      args.push(q.after);
    }
    const sql = `SELECT * FROM alert_episodes ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC`;
    const episodes: HistoryEpisode[] = [];
    let next: number | undefined;
    // Label matchers run in JS: label sets are JSON, and pages are small.
    for (const r of this.db.prepare(sql).iterate(...args) as Iterable<Record<string, unknown>>) {
      const labels = JSON.parse(r.labels as string) as Record<string, string>;
      if (q.matchers?.length && !matchLabels(q.matchers, labelsFromObject(labels))) continue;
      if (episodes.length === limit) {
        next = episodes[episodes.length - 1].id;
        break;
      }
      const id = r.id as number;
      episodes.push({
        id,
        fingerprint: r.fingerprint as string,
        rule: r.rule as string,
        labels,
        annotations: JSON.parse(r.annotations as string) as Record<string, string>,
        state: r.state as string,
        pendingAt: r.pending_at as number,
        firedAt: (r.fired_at as number | null) ?? null,
        resolvedAt: (r.resolved_at as number | null) ?? null,
        lastSeenAt: r.last_seen_at as number,
        firstValue: r.first_value as number | null,
        peakValue: r.peak_value as number | null,
        lastValue: r.last_value as number | null,
        notifications: (this.stmts.notesOf.all(id) as Array<Record<string, unknown>>).map((n) => ({
          receiver: n.receiver as string,
          t: n.t as number,
          status: n.status as 'firing' | 'resolved',
          code: n.code as number,
          error: n.error as string,
        })),
      });
    }
    return { episodes, next };
  }

  /** Deletes closed episodes (and their notifications) that ended before `before` (ms). */
  prune(before: number): number {
    return this.db.transaction(() => {
      this.db
        .prepare(
          `DELETE FROM alert_notifications WHERE episode_id IN (SELECT id FROM alert_episodes WHERE resolved_at IS NOT NULL AND resolved_at < ?)`,
        )
        .run(before);
      return this.db.prepare(`DELETE FROM alert_episodes WHERE resolved_at IS NOT NULL AND resolved_at < ?`).run(before).changes;
    })();
  }

  close(): void {
    if (this.ownDb) this.db.close();
  }
}
