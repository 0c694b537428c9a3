/**
 * The walking skeleton's store: one SQLite row per sample. Correct and durable, not
 * compact; the TSDB issue replaces it behind the same `Storage` interface.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Labels } from '../../shared/index.js';
import { compareLabels, getLabel, isStaleNaN, labelsKey } from '../../shared/index.js';
import type { Appender, Matcher, MetricMetadataRecord, Querier, Series, Storage } from '../storage/index.js';
import { matchLabels, StorageError } from '../storage/index.js';

interface SeriesEntry {
  id: number;
  labels: Labels;
  lastT: number;
  lastV: number;
}

export interface SimpleStoreOptions {
  dataDir: string;
}

const f64 = new Float64Array(1);
const f64bytes = new Uint8Array(f64.buffer);

function valueBlob(v: number): Buffer {
  f64[0] = v;
  return Buffer.from(f64bytes);
}

function blobValue(b: Buffer): number {
  f64bytes.set(b);
  return f64[0];
}

export class SimpleSqliteStorage implements Storage {
  private readonly db: Database.Database;
  private readonly series = new Map<string, SeriesEntry>();
  private readonly meta = new Map<string, MetricMetadataRecord>();
  private readonly stmts;

  constructor(opts: SimpleStoreOptions) {
    mkdirSync(opts.dataDir, { recursive: true });
    this.db = new Database(join(opts.dataDir, 'kubepulse.db'));
    // WAL + NORMAL: a committed transaction survives a process crash (kill -9); only a
    // power loss can take the last transactions, which is what Prometheus's WAL offers too.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, labels TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS samples (series_id INTEGER NOT NULL, t INTEGER NOT NULL, v BLOB NOT NULL, PRIMARY KEY (series_id, t)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS metadata (metric TEXT PRIMARY KEY, type TEXT NOT NULL, help TEXT NOT NULL, unit TEXT NOT NULL);
    `);
    this.stmts = {
      insertSeries: this.db.prepare('INSERT INTO series (key, labels) VALUES (?, ?)'),
      insertSample: this.db.prepare('INSERT OR IGNORE INTO samples (series_id, t, v) VALUES (?, ?, ?)'),
      getSample: this.db.prepare<[number, number], { v: Buffer }>('SELECT v FROM samples WHERE series_id = ? AND t = ?'),
      upsertMeta: this.db.prepare('INSERT INTO metadata (metric, type, help, unit) VALUES (?, ?, ?, ?) ON CONFLICT(metric) DO UPDATE SET type = excluded.type, help = excluded.help, unit = excluded.unit'),
      range: this.db.prepare<[number, number, number], { t: number; v: Buffer }>('SELECT t, v FROM samples WHERE series_id = ? AND t >= ? AND t <= ? ORDER BY t'),
      any: this.db.prepare<[number, number, number], { t: number }>('SELECT t FROM samples WHERE series_id = ? AND t >= ? AND t <= ? LIMIT 1'),
    };
    this.load();
  }

  private load(): void {
    const last = this.db.prepare<[number], { t: number; v: Buffer }>('SELECT t, v FROM samples WHERE series_id = ? ORDER BY t DESC LIMIT 1');
    for (const row of this.db.prepare<[], { id: number; key: string; labels: string }>('SELECT id, key, labels FROM series').iterate()) {
      const l = last.get(row.id);
      this.series.set(row.key, {
        id: row.id,
        labels: JSON.parse(row.labels) as Labels,
        lastT: l ? l.t : -Infinity,
        lastV: l ? blobValue(l.v) : NaN,
      });
    }
    for (const m of this.db.prepare<[], MetricMetadataRecord>('SELECT metric, type, help, unit FROM metadata').iterate()) {
      this.meta.set(m.metric, m);
    }
  }

  appender(): Appender {
    const pending: Array<{ key: string; labels: Labels; t: number; v: number }> = [];
    const pendingMeta: MetricMetadataRecord[] = [];
    return {
      append: (labels, t, v) => {
        const key = labelsKey(labels);
        const s = this.series.get(key);
        if (s && t <= s.lastT) {
          const row = t === s.lastT ? { v: valueBlob(s.lastV) } : this.stmts.getSample.get(s.id, t);
          if (row && !row.v.equals(valueBlob(v))) {
            throw new StorageError('duplicate_timestamp', `sample for ${getLabel(labels, '__name__')} at ${t} already stored with another value`);
          }
        }
        pending.push({ key, labels, t, v });
      },
      updateMetadata: (m) => pendingMeta.push(m),
      commit: () => {
        const tx = this.db.transaction(() => {
          for (const p of pending) {
            let s = this.series.get(p.key);
            if (!s) {
              const id = Number(this.stmts.insertSeries.run(p.key, JSON.stringify(p.labels)).lastInsertRowid);
              s = { id, labels: p.labels, lastT: -Infinity, lastV: NaN };
              this.series.set(p.key, s);
            }
            this.stmts.insertSample.run(s.id, p.t, valueBlob(p.v));
            if (p.t >= s.lastT) {
              s.lastT = p.t;
              s.lastV = p.v;
            }
          }
          for (const m of pendingMeta) {
            this.stmts.upsertMeta.run(m.metric, m.type, m.help, m.unit);
            this.meta.set(m.metric, m);
          }
        });
        try {
          tx();
        } catch (err) {
          // A failed transaction rolled back on disk; forget series it created in memory.
          this.series.clear();
          this.load();
          throw err;
        }
      },
      rollback: () => {
        pending.length = 0;
      },
    };
  }

  querier(mint: number, maxt: number): Querier {
    const matching = (ms?: readonly Matcher[]) => [...this.series.values()].filter((s) => !ms || ms.length === 0 || matchLabels(ms, s.labels));
    const has = (s: SeriesEntry) => this.stmts.any.get(s.id, mint, maxt) !== undefined;
    return {
      select: (matchers) => {
        const out: Series[] = [];
        for (const s of matching(matchers)) {
          const rows = this.stmts.range.all(s.id, mint, maxt);
          if (rows.length === 0) continue;
          const t = new Float64Array(rows.length);
          const v = new Float64Array(rows.length);
          rows.forEach((r, i) => {
            t[i] = r.t;
            f64bytes.set(r.v);
            v[i] = f64[0];
          });
          out.push({ labels: s.labels, t, v });
        }
        return out.sort((a, b) => compareLabels(a.labels, b.labels));
      },
      labelNames: (matchers) => {
        const names = new Set<string>();
        for (const s of matching(matchers)) if (has(s)) for (const l of s.labels) names.add(l.name);
        return [...names].sort();
      },
      labelValues: (name, matchers) => {
        const values = new Set<string>();
        for (const s of matching(matchers)) {
          const v = getLabel(s.labels, name);
          if (v !== '' && has(s)) values.add(v);
        }
        return [...values].sort();
      },
      close: () => {},
    };
  }

  *latestSamples(): Iterable<{ labels: Labels; t: number; v: number }> {
    for (const s of this.series.values()) {
      if (s.lastT === -Infinity || isStaleNaN(s.lastV)) continue;
      yield { labels: s.labels, t: s.lastT, v: s.lastV };
    }
  }

  metadata(): ReadonlyMap<string, MetricMetadataRecord> {
    return this.meta;
  }

  /** Number of stored series. */
  seriesCount(): number {
    return this.series.size;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
