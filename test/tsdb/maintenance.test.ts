/**
 * Background work with an injected clock: WAL truncation, compaction, 5-minute rollups
 * and when `select` uses them, retention, the size cap, and that a pass yields to the
 * event loop.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { openTsdb, type Tsdb, type TsdbOptions } from '../../collector/tsdb/index.js';
import { ls, tempDir } from './helpers.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % DAY); // midnight, so windows align

const COUNTER = ls({ __name__: 'requests_total', pod: 'a' });
const GAUGE = ls({ __name__: 'temperature', pod: 'a' });

let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

function setup(extra: Partial<TsdbOptions> = {}) {
  const { dir, cleanup } = tempDir();
  const clock = { now: T0 };
  const opts: TsdbOptions = { dataDir: dir, maintenanceIntervalMs: 0, now: () => clock.now, ...extra };
  const ref = { db: openTsdb(opts) };
  cleanups.push(() => {
    try {
      ref.db.close();
    } catch {
      /* closed */
    }
    cleanup();
  });
  return { ref, clock, opts };
}

/** One sample a minute per series, committed an hour at a time. */
function fill(db: Tsdb, from: number, to: number, series = [COUNTER, GAUGE]): void {
  for (let h = from; h < to; h += HOUR) {
    const a = db.appender();
    for (let t = h; t < Math.min(h + HOUR, to); t += MIN) {
      const i = (t - T0) / MIN;
      a.append(series[0], t, i * 10);
      for (const s of series.slice(1)) a.append(s, t, 20 + (i % 7));
    }
    a.commit();
  }
}

const sel = (db: Tsdb, name: string, mint: number, maxt: number, hints?: Parameters<ReturnType<Tsdb['querier']>['select']>[1]) =>
  db.querier(mint, maxt).select([{ type: '=', name: '__name__', value: name }], hints)[0];

describe('maintenance', () => {
  it('truncates the WAL, merges chunks, and keeps raw reads unchanged', async () => {
    const { ref, clock } = setup();
    fill(ref.db, T0, T0 + 3 * DAY);
    clock.now = T0 + 3 * DAY;
    const before = sel(ref.db, 'requests_total', -Infinity, Infinity);
    expect(before.t.length).toBe(3 * 24 * 60);
    const walBefore = ref.db.stats().walBytes;
    await ref.db.runMaintenance();
    const after = ref.db.stats();
    // Only the rows of the open head chunks (the last 30 minutes) remain.
    expect(after.walBytes).toBeLessThan(walBefore / 20);
    // 3 days of 6-hour windows per series, the last window still open.
    expect(after.chunks).toBeLessThanOrEqual(2 * (3 * 4 + 12));
    const again = sel(ref.db, 'requests_total', -Infinity, Infinity);
    expect(Array.from(again.t)).toEqual(Array.from(before.t));
    expect(Array.from(again.v)).toEqual(Array.from(before.v));
  });

  it('serves long-step reads from 5-minute rollups, short ones and hint-less ones from raw samples', async () => {
    const { ref, clock } = setup();
    fill(ref.db, T0, T0 + 3 * DAY);
    clock.now = T0 + 3 * DAY;
    await ref.db.runMaintenance();
    const range = [T0, T0 + 3 * DAY - 1] as const;
    const raw = sel(ref.db, 'temperature', ...range);
    expect(raw.t.length).toBe(3 * 24 * 60);
    const short = sel(ref.db, 'temperature', ...range, { start: range[0], end: range[1], step: 60_000 });
    expect(short.t.length).toBe(raw.t.length);
    // Days 1 and 2 are final (the out-of-order window has passed), so they are rolled up.
    const long = sel(ref.db, 'temperature', ...range, { start: range[0], end: range[1], step: HOUR, func: 'max_over_time' });
    expect(long.t.length).toBe(2 * 24 * 12 + 24 * 60);
    expect(long.t[0]).toBe(T0 + 5 * MIN - 1);
    // The max of minutes 0..4 of 20 + (i % 7) is 24.
    expect(long.v[0]).toBe(24);
    const last = sel(ref.db, 'requests_total', ...range, { start: range[0], end: range[1], step: HOUR, func: 'rate' });
    expect(last.v[0]).toBe(40); // the last counter value of the first bucket (minute 4)
    // Strictly increasing timestamps across the rollup/raw seam.
    for (let i = 1; i < long.t.length; i++) expect(long.t[i]).toBeGreaterThan(long.t[i - 1]);
  });

  it('deletes raw chunks past retention but keeps rollups for long reads, then forgets the series', async () => {
    const { ref, clock } = setup({ retentionMs: 2 * DAY, rollupRetentionMs: 10 * DAY });
    fill(ref.db, T0, T0 + 3 * DAY);
    clock.now = T0 + 3 * DAY;
    await ref.db.runMaintenance();
    clock.now = T0 + 4 * DAY + 12 * HOUR;
    await ref.db.runMaintenance();
    const raw = sel(ref.db, 'temperature', -Infinity, Infinity);
    expect(raw.t[0]).toBe(T0 + 2 * DAY + 12 * HOUR); // the 6-hour chunks before the cutoff are gone
    expect(raw.t[raw.t.length - 1]).toBe(T0 + 3 * DAY - MIN);
    const hinted = sel(ref.db, 'temperature', T0, T0 + 3 * DAY, { start: T0, end: T0 + 3 * DAY, step: 60_000 });
    expect(hinted.t[0]).toBe(T0 + 5 * MIN - 1); // rollups fill in where raw data is gone
    clock.now = T0 + 20 * DAY;
    await ref.db.runMaintenance();
    expect(ref.db.stats().series).toBe(0);
    expect([...ref.db.latestSamples()]).toEqual([]);
    expect(ref.db.querier(-Infinity, Infinity).labelNames()).toEqual([]);
  });

  it('deletes the oldest chunks to stay under the size cap', async () => {
    const many = Array.from({ length: 40 }, (_, i) => ls({ __name__: 'g', i: String(i) }));
    // The same data without a cap tells how big the store gets.
    const free = setup();
    fill(free.ref.db, T0, T0 + 4 * DAY, many);
    free.clock.now = T0 + 4 * DAY;
    free.ref.db.flush();
    await free.ref.db.runMaintenance();
    const uncapped = free.ref.db.stats().storageBytes;
    const empty = setup().ref.db.stats().storageBytes; // a page or so per table and index
    const cap = Math.floor(empty + (uncapped - empty) * 0.5);
    const { ref, clock } = setup({ maxBytes: cap });
    fill(ref.db, T0, T0 + 4 * DAY, many);
    clock.now = T0 + 4 * DAY;
    ref.db.flush();
    await ref.db.runMaintenance();
    expect(ref.db.stats().storageBytes).toBeLessThanOrEqual(cap);
    const s = sel(ref.db, 'g', -Infinity, Infinity);
    expect(s.t[s.t.length - 1]).toBe(T0 + 4 * DAY - MIN); // the newest data is kept
    expect(s.t[0]).toBeGreaterThan(T0 + DAY); // the oldest is gone
  });

  it('yields to the event loop while it works, and exports its self-metrics', async () => {
    const many = Array.from({ length: 300 }, (_, i) => ls({ __name__: 'g', i: String(i) }));
    const registry = new Registry();
    const { ref, clock } = setup({ registry });
    fill(ref.db, T0, T0 + DAY + 12 * HOUR, many);
    clock.now = T0 + 2 * DAY;
    let ticks = 0;
    let done = false;
    const tick = () => {
      ticks++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    await ref.db.runMaintenance();
    done = true;
    expect(ticks).toBeGreaterThan(3);
    const text = await registry.metrics();
    for (const name of [
      'kubepulse_tsdb_head_series 300',
      'kubepulse_tsdb_samples_appended_total 648000',
      'kubepulse_tsdb_chunks',
      'kubepulse_tsdb_storage_bytes',
      'kubepulse_tsdb_wal_bytes',
      'kubepulse_tsdb_compaction_duration_seconds_count 1',
      'kubepulse_tsdb_retention_duration_seconds_count 1',
      'kubepulse_tsdb_wal_replay_duration_seconds',
    ]) {
      expect(text).toContain(name);
    }
  });
});
