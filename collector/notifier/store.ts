/**
 * The notifier's durable state in SQLite: the outbox (a notification is written before it
 * is sent and removed only after a 2xx), the notification log (what each receiver was last
 * told about each group, Alertmanager's nflog) and silences. Separate from the TSDB.
 */
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';

export interface OutboxRow {
  readonly id: number;
  /** `webhook` or `alertmanager`. */
  readonly kind: string;
  /** Receiver name (webhooks) or Alertmanager URL. */
  readonly target: string;
  /** Index of the webhook config within the receiver. */
  readonly integration: number;
  readonly body: string;
  /** Fingerprints of the alerts in the body, for the history. */
  readonly fingerprints: string[];
  readonly status: string;
  readonly createdAt: number;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly lastError: string;
}

export interface NflogEntry {
  readonly firing: ReadonlySet<string>;
  readonly resolved: ReadonlySet<string>;
  readonly t: number;
}

export interface SilenceRecord {
  id: string;
  matchers: Array<{ name: string; value: string; isRegex: boolean; isEqual: boolean }>;
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
  updatedAt: number;
}

export class NotifierStore {
  readonly db: Db;
  private readonly ownDb: boolean;
  private readonly s;

  /** `db`: a file path, ':memory:' or an open handle (not closed by {@link close}). */
  constructor(db: string | Db) {
    this.ownDb = typeof db === 'string';
    this.db = typeof db === 'string' ? new Database(db) : db;
    this.db.pragma('journal_mode = WAL');
    // FULL: an outbox row must survive a kill right after the insert returns.
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS notifier_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        integration INTEGER NOT NULL,
        body TEXT NOT NULL,
        fingerprints TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT NOT NULL DEFAULT ''
      );
      CREATE INDEX IF NOT EXISTS notifier_outbox_due ON notifier_outbox (next_attempt_at);
      CREATE TABLE IF NOT EXISTS notifier_nflog (
        key TEXT PRIMARY KEY,
        firing TEXT NOT NULL,
        resolved TEXT NOT NULL,
        t INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS notifier_silences (
        id TEXT PRIMARY KEY,
        matchers TEXT NOT NULL,
        starts_at INTEGER NOT NULL,
        ends_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        comment TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `);
    this.s = {
      enqueue: this.db.prepare(
        `INSERT INTO notifier_outbox (kind, target, integration, body, fingerprints, status, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      due: this.db.prepare(`SELECT * FROM notifier_outbox WHERE next_attempt_at <= ? ORDER BY id LIMIT ?`),
      del: this.db.prepare(`DELETE FROM notifier_outbox WHERE id = ?`),
      retry: this.db.prepare(`UPDATE notifier_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?`),
      count: this.db.prepare(`SELECT count(*) AS n FROM notifier_outbox`),
      nextDue: this.db.prepare(`SELECT min(next_attempt_at) AS t FROM notifier_outbox`),
      nflogGet: this.db.prepare(`SELECT * FROM notifier_nflog WHERE key = ?`),
      nflogSet: this.db.prepare(`INSERT OR REPLACE INTO notifier_nflog (key, firing, resolved, t) VALUES (?, ?, ?, ?)`),
      nflogGc: this.db.prepare(`DELETE FROM notifier_nflog WHERE t < ?`),
      silPut: this.db.prepare(
        `INSERT OR REPLACE INTO notifier_silences (id, matchers, starts_at, ends_at, created_by, comment, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      silAll: this.db.prepare(`SELECT * FROM notifier_silences ORDER BY starts_at`),
      silGc: this.db.prepare(`DELETE FROM notifier_silences WHERE ends_at < ?`),
    };
  }

  /** Writes notifications durably in one transaction; returns their ids. */
  enqueue(rows: ReadonlyArray<Omit<OutboxRow, 'id' | 'attempts' | 'lastError'>>): number[] {
    return this.db.transaction(() =>
      rows.map(
        (r) =>
          Number(
            this.s.enqueue.run(r.kind, r.target, r.integration, r.body, JSON.stringify(r.fingerprints), r.status, r.createdAt, r.nextAttemptAt)
              .lastInsertRowid,
          ),
      ),
    )();
  }

  /** Rows due at `now`, oldest first. */
  due(now: number, limit: number): OutboxRow[] {
    return (this.s.due.all(now, limit) as Array<Record<string, unknown>>).map((r) => ({
      id: r.id as number,
      kind: r.kind as string,
      target: r.target as string,
      integration: r.integration as number,
      body: r.body as string,
      fingerprints: JSON.parse(r.fingerprints as string) as string[],
      status: r.status as string,
      createdAt: r.created_at as number,
      attempts: r.attempts as number,
      nextAttemptAt: r.next_attempt_at as number,
      lastError: r.last_error as string,
    }));
  }

  delivered(id: number): void {
    this.s.del.run(id);
  }

  retryAt(id: number, t: number, error: string): void {
    this.s.retry.run(t, error.slice(0, 1000), id);
  }

  length(): number {
    return (this.s.count.get() as { n: number }).n;
  }

  /** Earliest next attempt of any row (ms), or undefined when empty. */
  nextDue(): number | undefined {
    const t = (this.s.nextDue.get() as { t: number | null }).t;
    return t ?? undefined;
  }

  nflog(key: string): NflogEntry | undefined {
    const r = this.s.nflogGet.get(key) as { firing: string; resolved: string; t: number } | undefined;
    if (!r) return undefined;
    return { firing: new Set(JSON.parse(r.firing) as string[]), resolved: new Set(JSON.parse(r.resolved) as string[]), t: r.t };
  }

  setNflog(key: string, e: NflogEntry): void {
    this.s.nflogSet.run(key, JSON.stringify([...e.firing]), JSON.stringify([...e.resolved]), e.t);
  }

  /** Forgets notification-log entries older than `before` (ms). */
  gcNflog(before: number): void {
    this.s.nflogGc.run(before);
  }

  putSilence(s: SilenceRecord): void {
    this.s.silPut.run(s.id, JSON.stringify(s.matchers), s.startsAt, s.endsAt, s.createdBy, s.comment, s.updatedAt);
  }

  silences(): SilenceRecord[] {
    return (this.s.silAll.all() as Array<Record<string, unknown>>).map((r) => ({
      id: r.id as string,
      matchers: JSON.parse(r.matchers as string) as SilenceRecord['matchers'],
      startsAt: r.starts_at as number,
      endsAt: r.ends_at as number,
      createdBy: r.created_by as string,
      comment: r.comment as string,
      updatedAt: r.updated_at as number,
    }));
  }

  gcSilences(before: number): void {
    this.s.silGc.run(before);
  }

  close(): void {
    if (this.ownDb) this.db.close();
  }
}
