/**
 * The collector's time-series store on SQLite.
 *
 * - Series: one row each (`series`), indexed in memory by {@link PostingsIndex}.
 * - Head: per series one open Gorilla chunk in memory ({@link XorEncoder}), cut at
 *   `chunkRangeMs`-aligned boundaries or `chunkMaxSamples`.
 * - Durability: every commit is one SQLite transaction (journal_mode=WAL,
 *   synchronous=NORMAL) that inserts its in-order samples as one row of the `wal` table,
 *   its new series, and its out-of-order samples directly as a chunk. A committed
 *   transaction survives kill -9 (not a power cut). At open the `wal` rows are replayed
 *   into the head; rows are deleted once every sample they hold is in a stored chunk.
 * - Chunks: cut head chunks (and out-of-order ones) are written as blobs in `head_chunks`;
 *   the background compaction merges the chunks of each finished `compactRangeMs` window
 *   into one row of `chunks`, which therefore grows in time order (so retention frees
 *   whole pages), computes 5-minute rollups
 *   per day and applies retention, in slices separated by `setImmediate`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Registry } from 'prom-client';
import type { Labels, Logger } from '../../shared/index.js';
import { compareLabels, formatDuration, getLabel, isStaleNaN, labelsEqual, labelsToString, noopLogger, validateLabels } from '../../shared/index.js';
import type {
  Appender,
  Matcher,
  MetricMetadataRecord,
  Querier,
  SelectHints,
  Series,
  Storage,
} from '../storage/index.js';
import { matchLabels, StorageError } from '../storage/index.js';
import { createTsdbMetrics, type TsdbMetrics } from './metrics.js';
import { lowerBound, PostingsIndex } from './postings.js';
import { computeRollup, decodeRollup, encodeRollup, rollupFieldFor } from './rollup.js';
import { decodeWal, encodeWal } from './wal-codec.js';
import { chunkCount, decodeChunk, decodeChunkInto, encodeChunk, XorEncoder, MAX_CHUNK_SAMPLES, type DecodedChunk } from './xor-chunk.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Options of {@link openTsdb}; every field but `dataDir` has a default. */
export interface TsdbOptions {
  /** Directory of the database file `tsdb.db` (created if missing); `':memory:'` for a throw-away store. */
  dataDir: string;
  /** Raw samples older than now minus this are deleted. Default 15 d. */
  retentionMs?: number;
  /** 5-minute rollups older than now minus this are deleted. Default 90 d. */
  rollupRetentionMs?: number;
  /** How far behind its series' newest sample a sample may be and still be accepted. Default 1 h. */
  outOfOrderWindowMs?: number;
  /** Cap on the bytes of the database; the oldest chunks go first. 0 (default) for none. */
  maxBytes?: number;
  /** Head chunks are cut at multiples of this. Default 30 min. */
  chunkRangeMs?: number;
  /** Head chunks are cut at this many samples. Default 1,800. */
  chunkMaxSamples?: number;
  /** Compaction merges the chunks of each aligned window of this length. Default 6 h. */
  compactRangeMs?: number;
  /** Rollups are computed per aligned window of this length. Default 1 d. */
  rollupWindowMs?: number;
  /** `select` serves data from rollups when `hints.step` is at least this. Default 1 h. */
  rollupMinStepMs?: number;
  /** Period of the background maintenance; 0 disables the timer (call {@link Tsdb.runMaintenance}). Default 60 s. */
  maintenanceIntervalMs?: number;
  /** Most labels a series may have. Default 128. */
  maxLabelsPerSeries?: number;
  /** Longest label name or value, in UTF-16 code units. Default 4,096. */
  maxLabelLength?: number;
  logger?: Logger;
  /** Registry for `kubepulse_tsdb_*` self-metrics; a private one when absent. */
  registry?: Registry;
  /** Clock, epoch ms. */
  now?: () => number;
}

/** Sizes for benchmarks and the status page. */
export interface TsdbStats {
  series: number;
  chunks: number;
  /** Bytes of pages in use in the database file. */
  storageBytes: number;
  /** Bytes of WAL records still needed. */
  walBytes: number;
  /** Bytes held by open head chunk buffers. */
  headBytes: number;
}

interface PendingChunk {
  series: MemSeries;
  mint: number;
  maxt: number;
  data: Uint8Array;
  firstWal: number;
}

class MemSeries {
  minT = Infinity;
  maxT = -Infinity;
  lastV = NaN;
  head: XorEncoder | null = null;
  headFirstWal = 0;
  pending: PendingChunk[] | null = null;
  rollupUntil = -Infinity;
  compactedWindow = -Infinity;
  /**
   * At least the newest `maxt` of any chunk row of this series in SQLite (never lowered
   * when rows are deleted): a read of a window after it skips the SQL lookup, which is
   * what rule evaluation over recent data would otherwise spend most of its time on.
   */
  storedMaxT = -Infinity;
  /** Scratch of `Tsdb.sortAnswer`: the stamp of its last check and the series' place then. */
  orderStamp = 0;
  orderPos = 0;
  /** Set when retention drops the series from the index (see `Tsdb.knownSeries`). */
  removed = false;
  /** The write counter of this series' metric name (set by `Tsdb.addSeries`). */
  name: NameWrites = NO_NAME;
  constructor(
    readonly id: number,
    readonly labels: Labels,
  ) {}
}

/**
 * Counts commits' writes to the series of one metric name: every in-order sample and
 * every new series bump it. A cached `select` whose matchers fix `__name__` is still
 * valid when its name's counter has not moved, whatever the number of series it matched.
 */
interface NameWrites {
  writes: number;
}
const NO_NAME: NameWrites = { writes: 0 };

const CHUNK_HEAD = 0;
/** Both chunk tables as one, for the queries at open. */
const ALL_CHUNKS = '(SELECT series_id, mint, maxt, kind, data FROM chunks UNION ALL SELECT series_id, mint, maxt, kind, data FROM head_chunks)';
const CHUNK_OOO = 1;
const CHUNK_COMPACTED = 2;
const FLUSH_PER_COMMIT = 1000;
const SLICE = 2000;
const CAP_SLICE = 100;

/** Doubles per allocation of decoded samples (2 MiB); see readRawMany. */
const SLAB_DOUBLES = 262_144;

/** Select-cache bounds: samples held in all entries, entries, samples of one entry. */
const SELECT_CACHE_SAMPLES = 4_000_000;
const SELECT_CACHE_ENTRIES = 512;
const SELECT_CACHE_ENTRY_SAMPLES = 1_000_000;
/** Answers at least this large remember their order (see sortAnswer), for this many matcher sets. */
const SORT_MEMO_MIN = 256;
const SORT_MEMO_ENTRIES = 128;

/**
 * A `select` answer kept for the next identical `select` (same matchers and window): the
 * rules of a group all evaluate at one timestamp and mostly read the same few selectors.
 * It stays valid while no series matching the matchers was created (checked for the ids
 * created since `nextId`), no matched series got a sample at or before `maxt` (in-order
 * samples only ever land after a series' `maxT`, recorded in `maxTs`), and nothing else
 * changed stored data (`gen`: out-of-order chunks, compaction, rollups, retention).
 * When the matchers fix `__name__` with `=`, an unmoved write counter of that metric
 * (see {@link NameWrites}) proves the first two in O(1); only when it moved are the new
 * ids and matched series checked one by one (a write after `maxt` keeps the entry).
 */
interface SelectCacheEntry {
  readonly gen: number;
  nextId: number;
  readonly maxt: number;
  readonly matchers: readonly Matcher[];
  readonly matched: MemSeries[];
  readonly maxTs: Float64Array;
  /** The counter of the metric name an equality matcher fixes, if any, and its value when last validated. */
  readonly name: NameWrites | null;
  nameWrites: number;
  readonly out: Series[];
  readonly samples: number;
}

const scratch = new Float64Array(2);
const scratchBits = new Uint32Array(scratch.buffer);
/** Bit equality of two floats (so -0 ≠ 0 and NaN payloads count). */
function sameBits(a: number, b: number): boolean {
  if (a === b && a !== 0) return true;
  scratch[0] = a;
  scratch[1] = b;
  return scratchBits[0] === scratchBits[2] && scratchBits[1] === scratchBits[3];
}

/** A short description of a series for error messages (label values may be huge). */
function describe(ls: Labels): string {
  const s = labelsToString(ls);
  return s.length > 200 ? `${s.slice(0, 200)}… (${ls.length} labels)` : s;
}

/**
 * 32-bit FNV-1a over the label pairs, without building a key string: the lookup of a
 * known series is the hottest path of ingest. Collisions are resolved by comparing labels.
 */
function hashLabels(ls: Labels): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < ls.length; i++) {
    const n = ls[i].name;
    for (let j = 0; j < n.length; j++) h = Math.imul(h ^ n.charCodeAt(j), 0x01000193);
    h = Math.imul(h ^ 0xff, 0x01000193);
    const v = ls[i].value;
    for (let j = 0; j < v.length; j++) h = Math.imul(h ^ v.charCodeAt(j), 0x01000193);
    h = Math.imul(h ^ 0xfe, 0x01000193);
  }
  return h >>> 0;
}

/** Series by label hash; a bucket is an array only on a collision. */
class SeriesMap<T extends { labels: Labels }> {
  private readonly m = new Map<number, T | T[]>();

  get(ls: Labels, h = hashLabels(ls)): T | undefined {
    const e = this.m.get(h);
    if (e === undefined) return undefined;
    if (!Array.isArray(e)) return labelsEqual(e.labels, ls) ? e : undefined;
    for (const x of e) if (labelsEqual(x.labels, ls)) return x;
    return undefined;
  }

  set(x: T, h = hashLabels(x.labels)): void {
    const e = this.m.get(h);
    if (e === undefined) this.m.set(h, x);
    else if (Array.isArray(e)) e.push(x);
    else this.m.set(h, [e, x]);
  }

  delete(x: T): void {
    const h = hashLabels(x.labels);
    const e = this.m.get(h);
    if (e === x) this.m.delete(h);
    else if (Array.isArray(e)) {
      const rest = e.filter((y) => y !== x);
      if (rest.length === 0) this.m.delete(h);
      else this.m.set(h, rest.length === 1 ? rest[0] : rest);
    }
  }
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Opens (creating if needed) the store in `opts.dataDir`, replaying its write-ahead log. */
export function openTsdb(opts: TsdbOptions): Tsdb {
  return new Tsdb(opts);
}

export class Tsdb implements Storage {
  private readonly db: Database.Database;
  private readonly log: Logger;
  private readonly now: () => number;
  readonly retentionMs: number;
  readonly rollupRetentionMs: number;
  readonly oooWindowMs: number;
  readonly maxBytes: number;
  readonly chunkRangeMs: number;
  readonly chunkMaxSamples: number;
  readonly compactRangeMs: number;
  readonly rollupWindowMs: number;
  readonly rollupMinStepMs: number;
  private readonly maxLabels: number;
  private readonly maxLabelLength: number;

  private readonly index = new PostingsIndex();
  private readonly byKey = new SeriesMap<MemSeries>();
  private readonly byId = new Map<number, MemSeries>();
  private readonly meta = new Map<string, MetricMetadataRecord>();
  private readonly nameWrites = new Map<string, NameWrites>();
  /**
   * The series last appended under a caller's label array: a writer that hands the very
   * same (immutable, as `Labels` are) array again, as the rule manager does for
   * ALERTS/ALERTS_FOR_STATE every round, skips hashing and looking up its labels.
   */
  private readonly seriesOfArray = new WeakMap<Labels, MemSeries>();
  /** Per matchers, the series of the last large answer in label order (see sortAnswer). */
  private readonly lastOrder = new Map<string, MemSeries[]>();
  private orderStamp = 0;
  private pendingQueue: PendingChunk[] = [];
  private nextSeriesId = 1;
  private chunkCount = 0;
  private walBytes = 0;
  private readonly walRowBytes: Array<[number, number]> = []; // [wal id, bytes], ascending
  /**
   * A Series object from `select` is never modified, and a later `select` returns the
   * same object only while its samples in the window are unchanged (the select cache).
   * The PromQL engine then shares subexpression results between queries.
   */
  readonly stableSeriesIdentity = true;
  /** Bumped by every commit; an appender whose checks predate it re-checks at commit. */
  commitSeq = 0;
  /** Bumped by every change of stored data other than in-order head appends and flushes. */
  private readGen = 0;
  private readonly selectCache = new Map<string, SelectCacheEntry>();
  private selectCacheSamples = 0;
  private closed = false;
  private maintenance: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  readonly metrics: TsdbMetrics;
  private readonly stmts;

  constructor(opts: TsdbOptions) {
    this.log = (opts.logger ?? noopLogger()).child({ component: 'tsdb' });
    this.now = opts.now ?? Date.now;
    this.retentionMs = positive('retentionMs', opts.retentionMs ?? 15 * DAY);
    this.rollupRetentionMs = positive('rollupRetentionMs', opts.rollupRetentionMs ?? 90 * DAY);
    this.oooWindowMs = nonNegative('outOfOrderWindowMs', opts.outOfOrderWindowMs ?? HOUR);
    this.maxBytes = nonNegative('maxBytes', opts.maxBytes ?? 0);
    this.chunkRangeMs = positive('chunkRangeMs', opts.chunkRangeMs ?? 30 * 60_000);
    this.chunkMaxSamples = positive('chunkMaxSamples', opts.chunkMaxSamples ?? 1800);
    if (this.chunkMaxSamples > MAX_CHUNK_SAMPLES) throw new RangeError(`tsdb: chunkMaxSamples must be at most ${MAX_CHUNK_SAMPLES}`);
    this.compactRangeMs = positive('compactRangeMs', opts.compactRangeMs ?? 6 * HOUR);
    this.rollupWindowMs = positive('rollupWindowMs', opts.rollupWindowMs ?? DAY);
    if (this.rollupWindowMs % 300_000 !== 0) throw new RangeError('tsdb: rollupWindowMs must be a multiple of 5 minutes');
    this.rollupMinStepMs = positive('rollupMinStepMs', opts.rollupMinStepMs ?? HOUR);
    this.maxLabels = positive('maxLabelsPerSeries', opts.maxLabelsPerSeries ?? 128);
    this.maxLabelLength = positive('maxLabelLength', opts.maxLabelLength ?? 4096);

    const file = opts.dataDir === ':memory:' ? ':memory:' : join(opts.dataDir, 'tsdb.db');
    if (file !== ':memory:') mkdirSync(opts.dataDir, { recursive: true });
    const started = performance.now();
    this.db = new Database(file);
    try {
      // Both only take effect on a new file. 64 KiB pages pack chunk rows of a few KiB
      // densely (with 4 KiB pages a 3 KiB row wastes a quarter of its page).
      this.db.pragma('page_size = 65536');
      this.db.pragma('auto_vacuum = INCREMENTAL');
      this.db.pragma('journal_mode = WAL');
      // NORMAL: a committed transaction is in the OS page cache, so it survives a process
      // crash; only a power cut can lose the last ones (Prometheus's WAL is the same).
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('cache_size = -65536');
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > 1) throw new Error(`tsdb: ${file} has schema version ${version}; this build knows 1`);
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, labels TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS head_chunks (series_id INTEGER NOT NULL, mint INTEGER NOT NULL, maxt INTEGER NOT NULL, kind INTEGER NOT NULL, data BLOB NOT NULL);
        CREATE INDEX IF NOT EXISTS head_chunks_by_series ON head_chunks (series_id, maxt);
        CREATE INDEX IF NOT EXISTS head_chunks_by_maxt ON head_chunks (maxt);
        CREATE TABLE IF NOT EXISTS chunks (series_id INTEGER NOT NULL, mint INTEGER NOT NULL, maxt INTEGER NOT NULL, kind INTEGER NOT NULL, data BLOB NOT NULL);
        CREATE INDEX IF NOT EXISTS chunks_by_series ON chunks (series_id, maxt);
        CREATE INDEX IF NOT EXISTS chunks_by_maxt ON chunks (maxt);
        CREATE TABLE IF NOT EXISTS rollups (series_id INTEGER NOT NULL, mint INTEGER NOT NULL, maxt INTEGER NOT NULL, data BLOB NOT NULL);
        CREATE UNIQUE INDEX IF NOT EXISTS rollups_by_series ON rollups (series_id, mint);
        CREATE INDEX IF NOT EXISTS rollups_by_maxt ON rollups (maxt);
        CREATE TABLE IF NOT EXISTS wal (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS metadata (metric TEXT PRIMARY KEY, type TEXT NOT NULL, help TEXT NOT NULL, unit TEXT NOT NULL);
        PRAGMA user_version = 1;
      `);
    } catch (err) {
      this.db.close();
      throw new Error(`tsdb: opening ${file}`, { cause: err });
    }
    this.stmts = {
      insertSeries: this.db.prepare('INSERT INTO series (id, labels) VALUES (?, ?)'),
      deleteSeries: this.db.prepare('DELETE FROM series WHERE id = ?'),
      insertWal: this.db.prepare('INSERT INTO wal (data) VALUES (?)'),
      truncateWal: this.db.prepare('DELETE FROM wal WHERE id < ?'),
      insertChunk: this.db.prepare('INSERT INTO head_chunks (series_id, mint, maxt, kind, data) VALUES (?, ?, ?, ?, ?)'),
      insertCompacted: this.db.prepare('INSERT INTO chunks (series_id, mint, maxt, kind, data) VALUES (?, ?, ?, ?, ?)'),
      deleteChunk: this.db.prepare('DELETE FROM head_chunks WHERE rowid = ?'),
      chunksIn: this.db.prepare<[number, number, number], [Buffer]>('SELECT data FROM chunks WHERE series_id = ? AND maxt >= ? AND mint <= ? ORDER BY maxt').raw(),
      headChunksIn: this.db.prepare<[number, number, number], [Buffer]>('SELECT data FROM head_chunks WHERE series_id = ? AND maxt >= ? AND mint <= ? ORDER BY maxt').raw(),
      // The chunks of many series in one statement each (ids as a JSON array): one pass
      // over the index instead of two lookups per series. Rows come grouped by series.
      chunksInMany: this.db
        .prepare<[string, number, number], [number, Buffer]>(
          'SELECT series_id, data FROM chunks WHERE series_id IN (SELECT value FROM json_each(?)) AND maxt >= ? AND mint <= ? ORDER BY series_id, maxt',
        )
        .raw(),
      headChunksInMany: this.db
        .prepare<[string, number, number], [number, Buffer]>(
          'SELECT series_id, data FROM head_chunks WHERE series_id IN (SELECT value FROM json_each(?)) AND maxt >= ? AND mint <= ? ORDER BY series_id, maxt',
        )
        .raw(),
      chunksBefore: this.db.prepare<[number, number], { rowid: number; mint: number; maxt: number; kind: number }>(
        'SELECT rowid, mint, maxt, kind FROM head_chunks WHERE series_id = ? AND maxt < ? ORDER BY mint',
      ),
      chunkData: this.db.prepare<[number], { data: Buffer }>('SELECT data FROM head_chunks WHERE rowid = ?'),
      rollupsIn: this.db.prepare<[number, number, number], { data: Buffer }>(
        'SELECT data FROM rollups WHERE series_id = ? AND maxt >= ? AND mint <= ? ORDER BY mint',
      ),
      insertRollup: this.db.prepare('INSERT OR REPLACE INTO rollups (series_id, mint, maxt, data) VALUES (?, ?, ?, ?)'),
      deleteOldChunks: this.db.prepare('DELETE FROM chunks WHERE rowid IN (SELECT rowid FROM chunks WHERE maxt < ? LIMIT ?)'),
      deleteOldHeadChunks: this.db.prepare('DELETE FROM head_chunks WHERE rowid IN (SELECT rowid FROM head_chunks WHERE maxt < ? LIMIT ?)'),
      deleteOldestChunks: this.db.prepare('DELETE FROM chunks WHERE rowid IN (SELECT rowid FROM chunks ORDER BY maxt LIMIT ?)'),
      deleteOldestHeadChunks: this.db.prepare('DELETE FROM head_chunks WHERE rowid IN (SELECT rowid FROM head_chunks ORDER BY maxt LIMIT ?)'),
      deleteOldRollups: this.db.prepare('DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups WHERE maxt < ? LIMIT ?)'),
      deleteOldestRollups: this.db.prepare('DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups ORDER BY maxt LIMIT ?)'),
      deleteSeriesRollups: this.db.prepare('DELETE FROM rollups WHERE series_id = ?'),
      upsertMeta: this.db.prepare(
        'INSERT INTO metadata (metric, type, help, unit) VALUES (?, ?, ?, ?) ON CONFLICT(metric) DO UPDATE SET type = excluded.type, help = excluded.help, unit = excluded.unit',
      ),
    };
    this.metrics = createTsdbMetrics(opts.registry, {
      headSeries: () => this.byId.size,
      chunks: () => this.chunkCount,
      storageBytes: () => this.storageBytes(),
      walBytes: () => this.walBytes,
      headBytes: () => this.headBytes(),
    });
    try {
      this.load();
    } catch (err) {
      this.db.close();
      throw new Error(`tsdb: loading ${file}`, { cause: err });
    }
    const secs = (performance.now() - started) / 1000;
    this.metrics.walReplayDuration.set(secs);
    this.log.info({ series: this.byId.size, chunks: this.chunkCount, walBytes: this.walBytes, seconds: secs }, 'TSDB opened');
    const every = opts.maintenanceIntervalMs ?? 60_000;
    if (every > 0) {
      this.timer = setInterval(() => void this.runMaintenance(), every);
      this.timer.unref();
    }
  }

  // ---- open ------------------------------------------------------------------------

  private load(): void {
    for (const row of this.db.prepare<[], { id: number; labels: string }>('SELECT id, labels FROM series ORDER BY id').iterate()) {
      const pairs = JSON.parse(row.labels) as Array<[string, string]>;
      const labels = this.index.internLabels(pairs.map(([name, value]) => ({ name, value })));
      this.addSeries(new MemSeries(row.id, labels));
      if (row.id >= this.nextSeriesId) this.nextSeriesId = row.id + 1;
    }
    const stats = this.db.prepare<[], { id: number; mn: number; mx: number; n: number }>(
      `SELECT series_id AS id, min(mint) AS mn, max(maxt) AS mx, count(*) AS n FROM ${ALL_CHUNKS} GROUP BY series_id`,
    );
    for (const r of stats.iterate()) {
      const s = this.byId.get(r.id);
      this.chunkCount += r.n;
      if (s) {
        s.minT = r.mn;
        s.storedMaxT = r.mx;
      }
    }
    // The newest in-order chunk of each series gives its head max and last value; WAL
    // samples at or before that time are already stored.
    const last = this.db.prepare<[], { id: number; data: Buffer }>(`
      SELECT c.series_id AS id, c.data AS data FROM ${ALL_CHUNKS} c
      JOIN (SELECT series_id, max(maxt) AS mx FROM ${ALL_CHUNKS} WHERE kind != ${CHUNK_OOO} GROUP BY series_id) m
        ON c.series_id = m.series_id AND c.maxt = m.mx AND c.kind != ${CHUNK_OOO}`);
    for (const r of last.iterate()) {
      const s = this.byId.get(r.id);
      if (!s) continue;
      const c = decodeChunk(r.data);
      const n = c.t.length;
      if (n > 0 && c.t[n - 1] >= s.maxT) {
        s.maxT = c.t[n - 1];
        s.lastV = c.v[n - 1];
      }
    }
    for (const r of this.db.prepare<[], { id: number; mx: number }>('SELECT series_id AS id, max(maxt) AS mx FROM rollups GROUP BY series_id').iterate()) {
      const s = this.byId.get(r.id);
      if (s) s.rollupUntil = r.mx + 1;
    }
    for (const m of this.db.prepare<[], MetricMetadataRecord>('SELECT metric, type, help, unit FROM metadata').iterate()) {
      this.meta.set(m.metric, m);
    }
    let replayed = 0;
    for (const row of this.db.prepare<[], { id: number; data: Buffer }>('SELECT id, data FROM wal ORDER BY id').iterate()) {
      const w = decodeWal(row.data);
      for (let i = 0; i < w.ids.length; i++) {
        const s = this.byId.get(w.ids[i]);
        if (!s || w.t[i] <= s.maxT) continue;
        this.appendHead(s, w.t[i], w.v[i], row.id);
        replayed++;
      }
      this.walRowBytes.push([row.id, row.data.length]);
      this.walBytes += row.data.length;
    }
    // OOO chunks never move the head, but they can hold the newest sample of a series
    // whose in-order data was all deleted by retention.
    for (const r of this.db.prepare<[], { id: number; mx: number }>(`SELECT series_id AS id, max(maxt) AS mx FROM ${ALL_CHUNKS} GROUP BY series_id`).iterate()) {
      const s = this.byId.get(r.id);
      if (s && r.mx > s.maxT) {
        const c = this.readRaw(s, r.mx, r.mx);
        if (c.t.length) {
          s.maxT = r.mx;
          s.lastV = c.v[0];
        }
      }
    }
    if (replayed) this.log.info({ samples: replayed, records: this.walRowBytes.length }, 'TSDB write-ahead log replayed');
  }

  private addSeries(s: MemSeries): void {
    const name = getLabel(s.labels, '__name__');
    let w = this.nameWrites.get(name);
    if (!w) this.nameWrites.set(name, (w = { writes: 0 }));
    w.writes++;
    s.name = w;
    this.byKey.set(s);
    this.byId.set(s.id, s);
    this.index.add(s.id, s.labels);
  }

  // ---- write -----------------------------------------------------------------------

  appender(): Appender {
    this.assertOpen();
    return new TsdbAppender(this);
  }

  /**
   * True when a series with exactly these (sorted) labels is stored. The ingest limiter
   * asks this instead of keeping its own set of every series it has seen.
   */
  hasSeries(ls: Labels): boolean {
    return this.byKey.get(ls) !== undefined;
  }

  /** @internal The committed series with these labels, if any. */
  seriesByLabels(ls: Labels, hash: number): MemSeries | undefined {
    const s = this.byKey.get(ls, hash);
    if (s) this.seriesOfArray.set(ls, s);
    return s;
  }

  /** @internal The committed series last appended under this very array, unless retention removed it since. */
  knownSeries(ls: Labels): MemSeries | undefined {
    const s = this.seriesOfArray.get(ls);
    return s && !s.removed ? s : undefined;
  }

  /** @internal Checks a label set for a new series; throws StorageError. */
  checkNewSeries(labels: Labels): void {
    if (labels.length > this.maxLabels) {
      throw this.reject('limit', `series ${describe(labels)} has ${labels.length} labels; at most ${this.maxLabels} are allowed`);
    }
    for (const l of labels) {
      if (l.name.length > this.maxLabelLength || l.value.length > this.maxLabelLength) {
        throw this.reject(
          'limit',
          `label ${JSON.stringify(l.name.slice(0, 64))} of series ${describe(labels)} is ${Math.max(l.name.length, l.value.length)} characters long; at most ${this.maxLabelLength} are allowed`,
        );
      }
    }
    const problems = validateLabels(labels);
    if (problems.length) throw this.reject('invalid_labels', `invalid series ${describe(labels)}: ${problems.join('; ')}`);
  }

  /** @internal Counts and builds a rejection. */
  reject(reason: StorageError['reason'], message: string): StorageError {
    this.metrics.samplesRejected.inc({ reason });
    return new StorageError(reason, message);
  }

  /**
   * @internal Classifies a sample against the committed state of `s`: 'in' (newer than
   * its head), 'ooo' (older, inside the window, no sample at `t`), 'dup' (identical to a
   * stored sample); throws for a conflicting or too old sample.
   */
  classify(s: MemSeries, t: number, v: number, cache: Map<MemSeries, DecodedChunk>): 'in' | 'ooo' | 'dup' {
    if (t > s.maxT) return 'in';
    if (t === s.maxT) {
      if (sameBits(v, s.lastV)) return 'dup';
      throw this.reject('duplicate_timestamp', `series ${describe(s.labels)} already has a different value at ${t}`);
    }
    if (t < s.maxT - this.oooWindowMs) {
      throw this.reject(
        'too_old',
        `sample of ${describe(s.labels)} at ${t} is older than the out-of-order window: the series' newest sample is at ${s.maxT} and the window is ${formatDuration(this.oooWindowMs)}`,
      );
    }
    let near = cache.get(s);
    if (!near) {
      near = this.readRaw(s, s.maxT - this.oooWindowMs, s.maxT);
      cache.set(s, near);
    }
    const i = lowerBound(near.t, t);
    if (i < near.t.length && near.t[i] === t) {
      if (sameBits(near.v[i], v)) return 'dup';
      throw this.reject('duplicate_timestamp', `series ${describe(s.labels)} already has a different value at ${t}`);
    }
    return 'ooo';
  }

  /** @internal Makes a validated batch durable, then visible. */
  commitBatch(b: Batch): void {
    this.assertOpen();
    const started = performance.now();
    const firstNewId = this.nextSeriesId;
    for (const ns of b.newSeries) ns.id = this.nextSeriesId++;
    const idOf = (i: number) => {
      const r = b.refs[i];
      return r instanceof MemSeries ? r.id : (r.id as number);
    };
    // In-order samples go to the WAL sorted by (series, time) when the batch was not.
    let order: Int32Array | null = null;
    if (b.unsorted) {
      order = Int32Array.from(b.inOrder.subarray(0, b.nIn));
      order.sort((x, y) => idOf(x) - idOf(y) || b.t[x] - b.t[y]);
    }
    const nIn = b.nIn;
    const ids = new Uint32Array(nIn);
    const ts = new Float64Array(nIn);
    const vs = new Float64Array(nIn);
    for (let k = 0; k < nIn; k++) {
      const i = order ? order[k] : b.inOrder[k];
      ids[k] = idOf(i);
      ts[k] = b.t[i];
      vs[k] = b.v[i];
    }
    const oooChunks = this.buildOooChunks(b);
    const flush = this.pendingQueue.slice(0, FLUSH_PER_COMMIT);
    let walId = 0;
    let walLen = 0;
    try {
      this.db.transaction(() => {
        for (const ns of b.newSeries) this.stmts.insertSeries.run(ns.id, JSON.stringify(ns.labels.map((l) => [l.name, l.value])));
        if (nIn > 0) {
          const blob = encodeWal(ids, ts, vs, nIn);
          walLen = blob.length;
          walId = Number(this.stmts.insertWal.run(blob).lastInsertRowid);
        }
        for (const c of oooChunks) this.stmts.insertChunk.run(c.id, c.mint, c.maxt, CHUNK_OOO, c.data);
        for (const p of flush) this.stmts.insertChunk.run(p.series.id, p.mint, p.maxt, CHUNK_HEAD, p.data);
        for (const m of b.meta) this.stmts.upsertMeta.run(m.metric, m.type, m.help, m.unit);
      })();
    } catch (err) {
      this.nextSeriesId = firstNewId;
      for (const ns of b.newSeries) ns.id = undefined;
      throw new Error('tsdb: committing samples', { cause: err });
    }
    // Durable from here on; now make it visible.
    this.markFlushed(flush);
    if (walId) {
      this.walRowBytes.push([walId, walLen]);
      this.walBytes += walLen;
    }
    for (const ns of b.newSeries) {
      const s = new MemSeries(ns.id as number, this.index.internLabels(ns.labels));
      this.addSeries(s);
      this.seriesOfArray.set(ns.labels, s);
      ns.series = s;
    }
    for (let k = 0; k < nIn; k++) {
      const i = order ? order[k] : b.inOrder[k];
      const r = b.refs[i];
      const s = r instanceof MemSeries ? r : (r.series as MemSeries);
      // A batch may hold the same in-order sample twice; the second is a duplicate.
      if (b.t[i] <= s.maxT) continue;
      this.appendHead(s, b.t[i], b.v[i], walId);
    }
    if (oooChunks.length) this.readGen++;
    for (const c of oooChunks) {
      if (c.mint < c.series.minT) c.series.minT = c.mint;
      if (c.maxt > c.series.storedMaxT) c.series.storedMaxT = c.maxt;
      this.chunkCount++;
    }
    for (const m of b.meta) this.meta.set(m.metric, m);
    this.commitSeq++;
    this.metrics.samplesAppended.inc(nIn + b.nOoo);
    if (b.nOoo) this.metrics.samplesOutOfOrder.inc(b.nOoo);
    if (b.nDup) this.metrics.samplesDuplicate.inc(b.nDup);
    if (b.newSeries.length) this.metrics.seriesCreated.inc(b.newSeries.length);
    this.metrics.commitDuration.observe((performance.now() - started) / 1000);
  }

  private buildOooChunks(b: Batch): Array<{ series: MemSeries; id: number; mint: number; maxt: number; data: Uint8Array }> {
    if (b.nOoo === 0) return [];
    const bySeries = new Map<MemSeries, number[]>();
    for (let k = 0; k < b.nOoo; k++) {
      const i = b.ooo[k];
      const s = b.refs[i] as MemSeries;
      let l = bySeries.get(s);
      if (!l) bySeries.set(s, (l = []));
      l.push(i);
    }
    const out = [];
    for (const [s, idx] of bySeries) {
      idx.sort((x, y) => b.t[x] - b.t[y]);
      const t: number[] = [];
      const v = new Float64Array(idx.length);
      for (const i of idx) {
        if (t.length && t[t.length - 1] === b.t[i]) continue; // identical repeats within the batch
        v[t.length] = b.v[i];
        t.push(b.t[i]);
      }
      for (let from = 0; from < t.length; from += MAX_CHUNK_SAMPLES) {
        const to = Math.min(t.length, from + MAX_CHUNK_SAMPLES);
        out.push({ series: s, id: s.id, mint: t[from], maxt: t[to - 1], data: encodeChunk(t, v, from, to) });
      }
    }
    return out;
  }

  private appendHead(s: MemSeries, t: number, v: number, walId: number): void {
    let h = s.head;
    if (h && (h.count >= this.chunkMaxSamples || Math.floor(t / this.chunkRangeMs) !== Math.floor(h.mint / this.chunkRangeMs))) {
      this.cutHead(s);
      h = null;
    }
    if (!h) {
      h = s.head = new XorEncoder(32);
      s.headFirstWal = walId;
    }
    h.append(t, v);
    s.name.writes++;
    s.maxT = t;
    s.lastV = v;
    if (t < s.minT) s.minT = t;
  }

  private cutHead(s: MemSeries): void {
    const h = s.head;
    if (!h) return;
    const p: PendingChunk = { series: s, mint: h.mint, maxt: h.maxt, data: h.bytes(), firstWal: s.headFirstWal };
    this.pendingQueue.push(p);
    (s.pending ??= []).push(p);
    s.head = null;
  }

  private markFlushed(flushed: PendingChunk[]): void {
    if (!flushed.length) return;
    this.pendingQueue.splice(0, flushed.length);
    for (const p of flushed) {
      if (p.maxt > p.series.storedMaxT) p.series.storedMaxT = p.maxt;
      const l = p.series.pending;
      if (l) {
        l.shift();
        if (l.length === 0) p.series.pending = null;
      }
    }
    this.chunkCount += flushed.length;
  }

  /** Writes cut head chunks to SQLite, `limit` at most. */
  private flushPending(limit = Infinity): number {
    const flush = this.pendingQueue.slice(0, Math.min(limit, this.pendingQueue.length));
    if (!flush.length) return 0;
    this.db.transaction(() => {
      for (const p of flush) this.stmts.insertChunk.run(p.series.id, p.mint, p.maxt, CHUNK_HEAD, p.data);
    })();
    this.markFlushed(flush);
    return flush.length;
  }

  /** Deletes WAL rows whose samples are all in stored chunks. */
  private truncateWal(): void {
    let low = Infinity;
    for (const s of this.byId.values()) if (s.head && s.headFirstWal < low) low = s.headFirstWal;
    for (const p of this.pendingQueue) if (p.firstWal < low) low = p.firstWal;
    if (low === Infinity) low = this.walRowBytes.length ? this.walRowBytes[this.walRowBytes.length - 1][0] + 1 : 0;
    if (!this.walRowBytes.length || this.walRowBytes[0][0] >= low) return;
    this.stmts.truncateWal.run(low);
    let k = 0;
    while (k < this.walRowBytes.length && this.walRowBytes[k][0] < low) this.walBytes -= this.walRowBytes[k++][1];
    this.walRowBytes.splice(0, k);
  }

  /**
   * Writes every head chunk to SQLite and empties the WAL: what `close` does, and what a
   * benchmark calls to measure bytes on disk "once chunks are written".
   */
  flush(): void {
    this.assertOpen();
    for (const s of this.byId.values()) this.cutHead(s);
    this.flushPending();
    this.truncateWal();
  }

  // ---- read ------------------------------------------------------------------------

  /**
   * A reader of the samples in [mint, maxt]. `select` answers are read-only: a repeated
   * `select` may return the very same array (and Series objects and sample arrays) from
   * a cache (see {@link SelectCacheEntry}), so callers must not reorder, extend or write
   * into the array, its Series or their `t`/`v` (copy first). The PromQL engine relies on
   * this to count an answer's samples once (see collector/promql/engine.ts). The
   * arrays of one answer are views of shared buffers of up to 2 MiB (see readRawMany), so
   * keeping one series of a large answer keeps its buffer.
   */
  querier(mint: number, maxt: number): Querier {
    this.assertOpen();
    const matching = (ms: readonly Matcher[] | undefined, all?: MemSeries[]): MemSeries[] => {
      const out: MemSeries[] = [];
      const cand = ms && ms.length ? this.index.candidates(ms) : null;
      const ids: Iterable<number> = cand ?? this.byId.keys();
      for (const id of ids) {
        const s = this.byId.get(id);
        if (!s) continue;
        const inWindow = s.maxT >= mint && s.minT <= maxt;
        if (!inWindow && !all) continue;
        if (ms && ms.length && !matchLabels(ms, s.labels)) continue;
        all?.push(s);
        if (inWindow) out.push(s);
      }
      return out;
    };
    return {
      select: (matchers, hints) => {
        this.assertOpen();
        const key = selectKey(mint, maxt, matchers);
        const hit = this.cachedSelect(key);
        if (hit) return hit;
        const all: MemSeries[] = [];
        let out: Series[] = [];
        const src: MemSeries[] = []; // the series of each element of `out`
        let samples = 0;
        // Rollups make an answer depend on the clock (see readSeries): not cached then.
        let cacheable = true;
        // Series read from raw chunks only are read together (see readRawMany).
        const raw: MemSeries[] = [];
        for (const s of matching(matchers, all)) {
          if (s.rollupUntil > mint) cacheable = false;
          if (this.rollupSplit(s, mint, hints) > mint) {
            const c = this.readSeries(s, mint, maxt, hints);
            if (c.t.length) {
              out.push({ labels: s.labels, t: c.t, v: c.v });
              src.push(s);
            }
            samples += c.t.length;
          } else {
            raw.push(s);
          }
        }
        const decoded = this.readRawMany(raw, mint, maxt);
        for (let i = 0; i < raw.length; i++) {
          const c = decoded[i];
          if (c.t.length) {
            out.push({ labels: raw[i].labels, t: c.t, v: c.v });
            src.push(raw[i]);
          }
          samples += c.t.length;
        }
        out = this.sortAnswer(matchers, src, out);
        if (cacheable && samples <= SELECT_CACHE_ENTRY_SAMPLES) this.cacheSelect(key, maxt, matchers, all, out, samples);
        return out;
      },
      labelNames: (matchers) => {
        const names = new Set<string>();
        for (const s of matching(matchers)) for (const l of s.labels) names.add(l.name);
        return [...names].sort();
      },
      labelValues: (name, matchers) => {
        const values = new Set<string>();
        for (const s of matching(matchers)) {
          for (const l of s.labels) if (l.name === name) values.add(l.value);
        }
        return [...values].sort();
      },
      close: () => {},
    };
  }

  /**
   * `out` (read from `src`, element for element) sorted by labels. A selector read at a
   * new time misses the select cache (every rule group round does, once per selector)
   * but mostly matches the same series as before: when they are exactly the series of
   * the last large answer to the same matchers, their order is reused instead of
   * comparing labels again.
   */
  private sortAnswer(matchers: readonly Matcher[], src: MemSeries[], out: Series[]): Series[] {
    if (out.length < SORT_MEMO_MIN) return out.sort((a, b) => compareLabels(a.labels, b.labels));
    const mkey = matchersKey(matchers);
    const prev = this.lastOrder.get(mkey);
    if (prev && prev.length === src.length) {
      const stamp = ++this.orderStamp;
      for (let i = 0; i < prev.length; i++) {
        prev[i].orderStamp = stamp;
        prev[i].orderPos = i;
      }
      // Same length, every (distinct) series among the previous ones: the same set.
      let same = true;
      for (let i = 0; same && i < src.length; i++) same = src[i].orderStamp === stamp;
      if (same) {
        const sorted = new Array<Series>(out.length);
        for (let i = 0; i < src.length; i++) sorted[src[i].orderPos] = out[i];
        this.lastOrder.delete(mkey);
        this.lastOrder.set(mkey, prev); // most recently used last
        return sorted;
      }
    }
    const idx = Array.from({ length: out.length }, (_, i) => i);
    idx.sort((a, b) => compareLabels(out[a].labels, out[b].labels));
    const sorted = idx.map((i) => out[i]);
    this.lastOrder.delete(mkey);
    this.lastOrder.set(
      mkey,
      idx.map((i) => src[i]),
    );
    for (const k of this.lastOrder.keys()) {
      if (this.lastOrder.size <= SORT_MEMO_ENTRIES) break;
      this.lastOrder.delete(k);
    }
    return sorted;
  }

  /** A still valid cached answer for `key`, or undefined (dropping an invalid one). */
  private cachedSelect(key: string): Series[] | undefined {
    const e = this.selectCache.get(key);
    if (!e) return undefined;
    let valid = e.gen === this.readGen;
    // Nothing written to the metric since the last validation: no new matching series, no new sample.
    const quick = valid && e.name !== null && e.name.writes === e.nameWrites;
    for (let id = e.nextId; valid && !quick && id < this.nextSeriesId; id++) {
      const s = this.byId.get(id);
      if (s && matchLabels(e.matchers, s.labels)) valid = false;
    }
    for (let i = 0; valid && !quick && i < e.matched.length; i++) {
      const was = e.maxTs[i];
      if (was < e.maxt && e.matched[i].maxT !== was) valid = false;
    }
    this.selectCache.delete(key);
    if (!valid) {
      this.selectCacheSamples -= e.samples;
      return undefined;
    }
    e.nextId = this.nextSeriesId;
    if (e.name) e.nameWrites = e.name.writes;
    this.selectCache.set(key, e); // most recently used last
    return e.out;
  }

  private cacheSelect(key: string, maxt: number, matchers: readonly Matcher[], matched: MemSeries[], out: Series[], samples: number): void {
    const maxTs = new Float64Array(matched.length);
    for (let i = 0; i < matched.length; i++) maxTs[i] = matched[i].maxT;
    const old = this.selectCache.get(key);
    if (old) {
      this.selectCache.delete(key);
      this.selectCacheSamples -= old.samples;
    }
    let name: NameWrites | null = null;
    for (const m of matchers) if (m.type === '=' && m.name === '__name__') name = this.nameWrites.get(m.value) ?? null;
    const nameWrites = name ? name.writes : 0;
    this.selectCache.set(key, { gen: this.readGen, nextId: this.nextSeriesId, maxt, matchers, matched, maxTs, name, nameWrites, out, samples });
    this.selectCacheSamples += samples;
    for (const [k, e] of this.selectCache) {
      if (this.selectCacheSamples <= SELECT_CACHE_SAMPLES && this.selectCache.size <= SELECT_CACHE_ENTRIES) break;
      this.selectCache.delete(k);
      this.selectCacheSamples -= e.samples;
    }
  }

  /**
   * Samples of `s` in [mint, maxt]. Raw samples unless `hints` ask for a long range
   * (see docs/storage.md): then the part of the range already rolled up (and, whatever
   * the step, the part whose raw samples retention has deleted) comes from 5-minute
   * rollups, one point per bucket at the bucket's last millisecond.
   */
  private readSeries(s: MemSeries, mint: number, maxt: number, hints?: SelectHints): DecodedChunk {
    const split = this.rollupSplit(s, mint, hints);
    if (split <= mint) return this.readRaw(s, mint, maxt);
    const field = rollupFieldFor(hints?.func);
    const pieces: DecodedChunk[] = [];
    for (const row of this.stmts.rollupsIn.iterate(s.id, mint, Math.min(maxt, split - 1))) {
      const r = decodeRollup(row.data);
      pieces.push({ t: r.t, v: r[field] });
    }
    if (split <= maxt) pieces.push(this.readRaw(s, split, maxt));
    return mergePieces(pieces, mint, maxt);
  }

  /** Where {@link readSeries} switches from rollups to raw samples; at or before `mint` for raw only. */
  private rollupSplit(s: MemSeries, mint: number, hints: SelectHints | undefined): number {
    if (!hints || s.rollupUntil === -Infinity) return -Infinity;
    const rawFloor = this.now() - this.retentionMs;
    return (hints.step ?? 0) >= this.rollupMinStepMs ? s.rollupUntil : Math.min(s.rollupUntil, rawFloor);
  }

  /** Raw samples of `s` in [mint, maxt], from stored chunks, cut chunks and the head. */
  private readRaw(s: MemSeries, mint: number, maxt: number): DecodedChunk {
    return this.readRawMany([s], mint, maxt)[0];
  }

  /**
   * Raw samples in [mint, maxt] of each of `series`, in the same order. The stored chunks
   * of all of them come from one statement per chunk table (a select of 1,000 series
   * would otherwise spend more time in 2,000 index lookups than in decoding).
   */
  private readRawMany(series: readonly MemSeries[], mint: number, maxt: number): DecodedChunk[] {
    const blobs: Uint8Array[][] = series.map(() => []);
    const ids: number[] = [];
    const slot = new Map<number, number>();
    for (let i = 0; i < series.length; i++) {
      // A series whose stored chunks all end before the window needs no lookup.
      if (series[i].storedMaxT < mint) continue;
      ids.push(series[i].id);
      slot.set(series[i].id, i);
    }
    if (ids.length === 1) {
      const b = blobs[slot.get(ids[0]) as number];
      for (const row of this.stmts.chunksIn.all(ids[0], mint, maxt)) b.push(row[0]);
      for (const row of this.stmts.headChunksIn.all(ids[0], mint, maxt)) b.push(row[0]);
    } else if (ids.length > 1) {
      const json = JSON.stringify(ids);
      for (const stmt of [this.stmts.chunksInMany, this.stmts.headChunksInMany]) {
        for (const row of stmt.all(json, mint, maxt)) blobs[slot.get(row[0]) as number].push(row[1]);
      }
    }
    const counts = new Float64Array(series.length);
    let total = 0;
    for (let i = 0; i < series.length; i++) {
      const s = series[i];
      const b = blobs[i];
      if (s.pending) for (const p of s.pending) if (p.maxt >= mint && p.mint <= maxt) b.push(p.data);
      const h = s.head;
      if (h && h.maxt >= mint && h.mint <= maxt) b.push(h.bytes());
      for (const x of b) counts[i] += chunkCount(x);
      total += counts[i];
    }
    // Times and values of many series share one allocation (thousands of small typed arrays
    // cost more to allocate than to fill); the answers are views of it. Slabs stay small
    // enough for malloc to reuse freed memory instead of mapping (and faulting in) new pages.
    const out: DecodedChunk[] = new Array(series.length);
    let slab = new Float64Array(0);
    let off = 0;
    for (let i = 0; i < series.length; i++) {
      const n = counts[i];
      if (off + 2 * n > slab.length) {
        slab = new Float64Array(Math.max(2 * n, Math.min(SLAB_DOUBLES, 2 * total)));
        off = 0;
      }
      out[i] = decodeBlobs(blobs[i], mint, maxt, slab.subarray(off, off + n), slab.subarray(off + n, off + 2 * n));
      off += 2 * n;
      total -= n;
    }
    return out;
  }

  *latestSamples(): Iterable<{ labels: Labels; t: number; v: number }> {
    for (const s of this.byId.values()) {
      if (s.maxT === -Infinity || isStaleNaN(s.lastV)) continue;
      yield { labels: s.labels, t: s.maxT, v: s.lastV };
    }
  }

  metadata(): ReadonlyMap<string, MetricMetadataRecord> {
    return this.meta;
  }

  // ---- background ------------------------------------------------------------------

  /**
   * One maintenance pass: writes cut chunks, cuts idle heads, truncates the WAL, merges
   * chunks, computes rollups, applies retention and the size cap. Works in slices with
   * `setImmediate` between them so ingest keeps going; concurrent calls share one pass.
   * Errors are logged and counted, never thrown.
   */
  runMaintenance(): Promise<void> {
    if (this.maintenance) return this.maintenance;
    this.maintenance = this.maintain()
      .catch((err: unknown) => {
        if (this.closed) return;
        this.metrics.maintenanceFailures.inc();
        this.log.error({ err }, 'TSDB maintenance failed');
      })
      .finally(() => {
        this.maintenance = null;
      });
    return this.maintenance;
  }

  private async maintain(): Promise<void> {
    const now = this.now();
    // Heads that stopped receiving samples would pin the WAL forever.
    for (const s of this.byId.values()) if (s.head && s.head.maxt < now - this.chunkRangeMs) this.cutHead(s);
    while (!this.closed && this.flushPending(SLICE) > 0) await yieldToLoop();
    if (this.closed) return;
    this.truncateWal();

    const compactStart = performance.now();
    let done = 0;
    for (const s of [...this.byId.values()]) {
      if (this.closed) return;
      if (!this.byId.has(s.id)) continue;
      done += this.compactSeries(s);
      done += this.rollupSeries(s);
      if (done >= 50) {
        done = 0;
        await yieldToLoop();
      }
    }
    this.metrics.compactionDuration.observe((performance.now() - compactStart) / 1000);

    const retStart = performance.now();
    await this.applyRetention(this.now());
    this.metrics.retentionDuration.observe((performance.now() - retStart) / 1000);
  }

  /** The time before which no more samples can change `s`'s stored chunks. */
  private horizon(s: MemSeries): number {
    let h = s.maxT - this.oooWindowMs;
    if (s.head && s.head.mint < h) h = s.head.mint;
    if (s.pending && s.pending[0].mint < h) h = s.pending[0].mint;
    return h;
  }

  /** Merges the chunks of each finished window of `s`; returns the units of work done. */
  private compactSeries(s: MemSeries): number {
    const R = this.compactRangeMs;
    const until = Math.floor(this.horizon(s) / R) * R;
    if (until <= s.compactedWindow) return 0;
    const rows = this.stmts.chunksBefore.all(s.id, until);
    s.compactedWindow = until;
    let work = 1;
    let i = 0;
    while (i < rows.length) {
      const w = Math.floor(rows[i].mint / R);
      let j = i + 1;
      while (j < rows.length && Math.floor(rows[j].mint / R) === w) j++;
      const group = rows.slice(i, j);
      i = j;
      // Even a lone chunk moves, so that `head_chunks` stays small and `chunks` grows in time order.
      const pieces = group.map((g) => decodeChunk((this.stmts.chunkData.get(g.rowid) as { data: Buffer }).data));
      const merged = mergePieces(pieces, -Infinity, Infinity);
      this.db.transaction(() => {
        for (const g of group) this.stmts.deleteChunk.run(g.rowid);
        for (let from = 0; from < merged.t.length; from += MAX_CHUNK_SAMPLES) {
          const to = Math.min(merged.t.length, from + MAX_CHUNK_SAMPLES);
          this.stmts.insertCompacted.run(s.id, merged.t[from], merged.t[to - 1], CHUNK_COMPACTED, encodeChunk(merged.t, merged.v, from, to));
          this.chunkCount++;
        }
      })();
      this.readGen++;
      if (merged.t.length && merged.t[merged.t.length - 1] > s.storedMaxT) s.storedMaxT = merged.t[merged.t.length - 1];
      this.chunkCount -= group.length;
      work += group.length;
    }
    return work;
  }

  /** Rolls up the finished windows of `s` not rolled up yet; returns the units of work done. */
  private rollupSeries(s: MemSeries): number {
    const W = this.rollupWindowMs;
    const until = Math.floor(this.horizon(s) / W) * W;
    let from = s.rollupUntil === -Infinity ? Math.floor(s.minT / W) * W : s.rollupUntil;
    if (!Number.isFinite(from) || from >= until) return 0;
    const floor = Math.floor((this.now() - this.rollupRetentionMs) / W) * W;
    if (from < floor) from = floor;
    let work = 0;
    for (let w = from; w < until; w += W) {
      const raw = this.readRaw(s, w, w + W - 1);
      if (raw.t.length) {
        this.stmts.insertRollup.run(s.id, w, w + W - 1, encodeRollup(computeRollup(raw.t, raw.v)));
        work++;
      }
      s.rollupUntil = w + W;
      this.readGen++;
    }
    return work;
  }

  private async applyRetention(now: number): Promise<void> {
    const cutoff = now - this.retentionMs;
    const rollCutoff = now - this.rollupRetentionMs;
    for (const stmt of [this.stmts.deleteOldChunks, this.stmts.deleteOldHeadChunks]) {
      for (;;) {
        if (this.closed) return;
        const n = stmt.run(cutoff, SLICE).changes;
        if (n) this.readGen++;
        this.chunkCount -= n;
        if (n < SLICE) break;
        await yieldToLoop();
      }
    }
    for (;;) {
      if (this.closed) return;
      const n = this.stmts.deleteOldRollups.run(rollCutoff, SLICE).changes;
      if (n) this.readGen++;
      if (n < SLICE) break;
      await yieldToLoop();
    }
    if (this.maxBytes > 0) await this.applySizeCap();
    if (this.closed) return;
    // Series with nothing left anywhere leave the index.
    const gone = Math.min(cutoff, rollCutoff);
    let removed = 0;
    this.db.transaction(() => {
      for (const s of this.byId.values()) {
        if (s.maxT >= gone || s.head || s.pending) continue;
        this.stmts.deleteSeries.run(s.id);
        this.stmts.deleteSeriesRollups.run(s.id);
        this.byId.delete(s.id);
        this.byKey.delete(s);
        s.removed = true;
        this.index.remove(s.id, s.labels);
        removed++;
      }
    })();
    if (removed) {
      this.readGen++;
      this.index.forgetUnused([...this.byId.values()].map((s) => s.labels));
      this.metrics.seriesRemoved.inc(removed);
      this.log.info({ removed }, 'TSDB removed series past retention');
    }
    if (this.maxBytes === 0) this.db.pragma('incremental_vacuum(1000)');
  }

  /** Deletes the oldest chunks, then the oldest rollups, until the file is under `maxBytes`. */
  private async applySizeCap(): Promise<void> {
    this.db.pragma('incremental_vacuum');
    let chunks = 0;
    let rollups = 0;
    while (!this.closed && this.storageBytes() > this.maxBytes) {
      let n = this.stmts.deleteOldestChunks.run(CAP_SLICE).changes;
      if (n === 0) n = this.stmts.deleteOldestHeadChunks.run(CAP_SLICE).changes;
      this.chunkCount -= n;
      chunks += n;
      if (n === 0) {
        n = this.stmts.deleteOldestRollups.run(CAP_SLICE).changes;
        rollups += n;
      }
      this.db.pragma('incremental_vacuum');
      if (n === 0) break;
      this.readGen++;
      await yieldToLoop();
    }
    if (chunks || rollups) this.log.warn({ chunks, rollups, maxBytes: this.maxBytes }, 'TSDB over its size cap, deleted the oldest data');
  }

  // ---- misc ------------------------------------------------------------------------

  private storageBytes(): number {
    if (this.closed) return 0;
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  private headBytes(): number {
    let n = 0;
    for (const s of this.byId.values()) if (s.head) n += s.head.capacity;
    return n;
  }

  stats(): TsdbStats {
    return { series: this.byId.size, chunks: this.chunkCount, storageBytes: this.storageBytes(), walBytes: this.walBytes, headBytes: this.headBytes() };
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('tsdb: store is closed');
  }

  /**
   * Closes the database without writing the head, as a crash would leave it; for crash
   * tests only. The WAL is replayed at the next open.
   */
  abandon(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    this.closed = true;
    this.db.close();
  }

  /**
   * Writes the head to chunks, empties the WAL and closes the database. Idempotent. A
   * maintenance pass in flight stops at its next slice.
   */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    try {
      this.flush();
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.closed = true;
      this.db.close();
    }
    this.log.info('TSDB closed');
  }
}

/**
 * Decodes chunks into `t`/`v` (exactly as long as the chunks' samples) and returns the
 * samples in [mint, maxt]. In the usual case (chunks in time order, not overlapping) the
 * answer is a view of those arrays, with no further copy; otherwise the pieces are merged.
 */
function decodeBlobs(blobs: readonly Uint8Array[], mint: number, maxt: number, t: Float64Array, v: Float64Array): DecodedChunk {
  const total = t.length;
  const starts: number[] = [];
  let off = 0;
  let sorted = true;
  for (const b of blobs) {
    const n = decodeChunkInto(b, t, v, off);
    if (n > 0 && off > 0 && t[off] <= t[off - 1]) sorted = false;
    starts.push(off);
    off += n;
  }
  if (sorted) {
    const lo = lowerBound(t, mint);
    let hi = lowerBound(t, maxt, lo);
    if (hi < total && t[hi] === maxt) hi++;
    return { t: t.subarray(lo, hi), v: v.subarray(lo, hi) };
  }
  starts.push(total);
  const pieces: DecodedChunk[] = [];
  for (let i = 0; i < blobs.length; i++) pieces.push({ t: t.subarray(starts[i], starts[i + 1]), v: v.subarray(starts[i], starts[i + 1]) });
  return mergePieces(pieces, mint, maxt);
}

/** The select-cache key of a window and matchers (NUL cannot occur in label names). */
function selectKey(mint: number, maxt: number, ms: readonly Matcher[]): string {
  return `${mint}\u0000${maxt}${matchersKey(ms)}`;
}

function matchersKey(ms: readonly Matcher[]): string {
  let k = '';
  for (const m of ms) k += `\u0000${m.name}\u0000${m.type}\u0000${m.value.length}\u0000${m.value}`;
  return k;
}

/**
 * Concatenates decoded pieces into one sorted run over [mint, maxt],
 * dropping repeated timestamps (the first piece wins; duplicates are identical by the
 * ordering rules).
 */
function mergePieces(pieces: DecodedChunk[], mint: number, maxt: number): DecodedChunk {
  let sorted = true;
  let total = 0;
  let prevMax = -Infinity;
  for (const p of pieces) {
    const n = p.t.length;
    if (n === 0) continue;
    if (p.t[0] <= prevMax) sorted = false;
    prevMax = p.t[n - 1];
    total += n;
  }
  const t = new Float64Array(total);
  const v = new Float64Array(total);
  let k = 0;
  if (sorted) {
    for (const p of pieces) {
      const lo = lowerBound(p.t, mint);
      for (let i = lo; i < p.t.length && p.t[i] <= maxt; i++) {
        t[k] = p.t[i];
        v[k++] = p.v[i];
      }
    }
    return { t: t.subarray(0, k), v: v.subarray(0, k) };
  }
  const pt: number[] = [];
  const pv = new Float64Array(total);
  for (const p of pieces) {
    for (let i = 0; i < p.t.length; i++) {
      if (p.t[i] < mint || p.t[i] > maxt) continue;
      pv[pt.length] = p.v[i];
      pt.push(p.t[i]);
    }
  }
  const idx = Array.from({ length: pt.length }, (_, i) => i);
  idx.sort((a, b) => pt[a] - pt[b] || a - b);
  for (const i of idx) {
    if (k > 0 && t[k - 1] === pt[i]) continue;
    t[k] = pt[i];
    v[k++] = pv[i];
  }
  return { t: t.subarray(0, k), v: v.subarray(0, k) };
}

function positive(name: string, v: number): number {
  if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`tsdb: ${name} must be a positive number, got ${v}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`tsdb: ${name} must be zero or a positive number, got ${v}`);
  return v;
}

// ---- appender ----------------------------------------------------------------------

interface NewSeries {
  labels: Labels;
  id: number | undefined;
  series: MemSeries | undefined;
}

/** @internal What an appender hands to {@link Tsdb.commitBatch}. */
interface Batch {
  refs: Array<MemSeries | NewSeries>;
  t: Float64Array;
  v: Float64Array;
  inOrder: Int32Array;
  nIn: number;
  ooo: Int32Array;
  nOoo: number;
  nDup: number;
  unsorted: boolean;
  newSeries: NewSeries[];
  meta: MetricMetadataRecord[];
}

class TsdbAppender implements Appender, Batch {
  refs: Array<MemSeries | NewSeries> = [];
  t: Float64Array = new Float64Array(64);
  v: Float64Array = new Float64Array(64);
  inOrder: Int32Array = new Int32Array(64);
  nIn = 0;
  ooo: Int32Array = new Int32Array(8);
  nOoo = 0;
  nDup = 0;
  unsorted = false;
  newSeries: NewSeries[] = [];
  meta: MetricMetadataRecord[] = [];
  private newByKey = new SeriesMap<NewSeries>();
  private lastIdx = new Map<MemSeries | NewSeries, number>();
  private maxT = new Map<MemSeries | NewSeries, number>();
  private prev: Int32Array = new Int32Array(64);
  private readonly oooCache = new Map<MemSeries, DecodedChunk>();
  private seq: number;
  private done = false;

  constructor(private readonly db: Tsdb) {
    this.seq = db.commitSeq;
  }

  append(labels: Labels, t: number, v: number): void {
    if (this.done) throw new Error('tsdb: appender already committed or rolled back');
    if (!Number.isSafeInteger(t)) throw this.db.reject('too_old', `timestamp ${t} of ${describe(labels)} is not an integer number of milliseconds`);
    let hash = 0;
    let target: MemSeries | NewSeries | undefined = this.db.knownSeries(labels);
    if (!target) target = this.db.seriesByLabels(labels, (hash = hashLabels(labels)));
    if (!target) {
      target = this.newByKey.get(labels, hash);
      if (!target) {
        this.db.checkNewSeries(labels);
        target = { labels, id: undefined, series: undefined };
        this.newByKey.set(target, hash);
        this.newSeries.push(target);
      }
    }
    this.add(target, t, v);
  }

  private add(target: MemSeries | NewSeries, t: number, v: number): void {
    // Against the other samples of this batch first: `lastIdx` heads a chain through
    // `prev` of every pending sample of the target, `maxT` is their newest time.
    const last = this.lastIdx.get(target);
    const pendingMax = this.maxT.get(target);
    if (last !== undefined && pendingMax !== undefined && t <= pendingMax) {
      for (let i = last; i >= 0; i = this.prev[i]) {
        if (this.t[i] !== t) continue;
        if (sameBits(this.v[i], v)) {
          this.nDup++;
          return;
        }
        throw this.db.reject('duplicate_timestamp', `series ${describe(target.labels)} has two different values at ${t} in one request`);
      }
    }
    const kind = target instanceof MemSeries ? this.db.classify(target, t, v, this.oooCache) : 'in';
    if (kind === 'dup') {
      this.nDup++;
      return;
    }
    const i = this.refs.length;
    this.grow(i + 1);
    this.refs.push(target);
    this.t[i] = t;
    this.v[i] = v;
    this.prev[i] = last ?? -1;
    this.lastIdx.set(target, i);
    if (pendingMax === undefined || t > pendingMax) this.maxT.set(target, t);
    if (kind === 'in') {
      if (pendingMax !== undefined && t < pendingMax) this.unsorted = true;
      if (this.nIn >= this.inOrder.length) this.inOrder = growInt(this.inOrder);
      this.inOrder[this.nIn++] = i;
    } else {
      if (this.nOoo >= this.ooo.length) this.ooo = growInt(this.ooo);
      this.ooo[this.nOoo++] = i;
    }
  }

  private grow(n: number): void {
    if (n <= this.t.length) return;
    const size = this.t.length * 2;
    const t = new Float64Array(size);
    t.set(this.t);
    this.t = t;
    const v = new Float64Array(size);
    v.set(this.v);
    this.v = v;
    const p = new Int32Array(size);
    p.set(this.prev);
    this.prev = p;
  }

  updateMetadata(meta: MetricMetadataRecord): void {
    if (this.done) throw new Error('tsdb: appender already committed or rolled back');
    this.meta.push(meta);
  }

  commit(): void {
    if (this.done) throw new Error('tsdb: appender already committed or rolled back');
    this.done = true;
    if (this.refs.length === 0 && this.meta.length === 0) return;
    if (this.seq !== this.db.commitSeq) {
      // Another commit landed since our checks: check again against the new state.
      const again = new TsdbAppender(this.db);
      for (let i = 0; i < this.refs.length; i++) {
        const r = this.refs[i];
        again.append(r.labels, this.t[i], this.v[i]);
      }
      again.meta = this.meta;
      again.nDup += this.nDup;
      this.db.commitBatch(again);
      return;
    }
    this.db.commitBatch(this);
  }

  rollback(): void {
    this.done = true;
  }
}

function growInt(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
