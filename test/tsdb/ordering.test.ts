/**
 * The write rules one by one: duplicates, conflicts, the out-of-order window, stale
 * markers, bad label sets and oversized values, and what survives a rejected sample.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { float64Bits, isStaleNaN, STALE_NAN } from '../../shared/index.js';
import { StorageError } from '../../collector/storage/index.js';
import { openTsdb, type Tsdb, type TsdbOptions } from '../../collector/tsdb/index.js';
import { ls, tempDir } from './helpers.js';

const S = ls({ __name__: 'node_load1', instance: 'a' });
const HOUR = 3_600_000;
const T0 = 1_700_000_000_000;

let open: Array<{ db: Tsdb; cleanup: () => void }> = [];
afterEach(() => {
  for (const o of open) {
    try {
      o.db.close();
    } catch {
      /* closed by the test */
    }
    o.cleanup();
  }
  open = [];
});

function store(extra: Partial<TsdbOptions> = {}): { db: Tsdb; opts: TsdbOptions } {
  const { dir, cleanup } = tempDir();
  const opts: TsdbOptions = { dataDir: dir, maintenanceIntervalMs: 0, now: () => T0 + 10 * HOUR, ...extra };
  const db = openTsdb(opts);
  open.push({ db, cleanup });
  return { db, opts };
}

/**
 * Samples as `{ t, v }` objects: a plain JS array of doubles would set the quiet bit of
 * a stale marker (V8 canonicalises NaNs in double arrays), which is what we test for.
 */
function write(db: Tsdb, samples: Array<{ t: number; v: number }>, labels = S): void {
  const a = db.appender();
  for (const { t, v } of samples) a.append(labels, t, v);
  a.commit();
}

function read(db: Tsdb, labels = S): Array<[number, string]> {
  const name = labels.find((l) => l.name === '__name__')?.value ?? '';
  const got = db.querier(-Infinity, Infinity).select([{ type: '=', name: '__name__', value: name }]);
  const s = got.find((x) => x.labels.length === labels.length && x.labels.every((l, i) => l.value === labels[i].value));
  return s ? Array.from(s.t, (t, i) => [t, float64Bits(s.v[i]).toString(16)]) : [];
}

const bits = (v: number) => float64Bits(v).toString(16);

function rejection(fn: () => void): StorageError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StorageError) return err;
    throw err;
  }
  throw new Error('expected a StorageError');
}

describe('ordering rules', () => {
  it('accepts and ignores an identical duplicate, in the same request and a later one', () => {
    const { db } = store();
    write(db, [
      { t: T0, v: 1 },
      { t: T0, v: 1 },
    ]);
    write(db, [{ t: T0, v: 1 }]);
    expect(read(db)).toEqual([[T0, bits(1)]]);
  });

  it.each([
    { name: 'a different value', first: 1, second: 2 },
    { name: 'NaN after a stale marker', first: STALE_NAN, second: NaN },
    { name: '-0 after 0', first: 0, second: -0 },
  ])('rejects $name at an existing timestamp, counting it', ({ first, second }) => {
    const registry = new Registry();
    const { db } = store({ registry });
    write(db, [{ t: T0, v: first }]);
    const a = db.appender();
    const err = rejection(() => a.append(S, T0, second));
    expect(err.reason).toBe('duplicate_timestamp');
    expect(err.message).toContain('node_load1{instance="a"}');
    a.commit();
    expect(read(db)).toEqual([[T0, bits(first)]]);
    return registry.getSingleMetricAsString('kubepulse_tsdb_samples_rejected_total').then((text) => {
      expect(text).toContain('reason="duplicate_timestamp"} 1');
    });
  });

  it('rejects two different values at one timestamp within one request', () => {
    const { db } = store();
    const a = db.appender();
    a.append(S, T0, 1);
    expect(rejection(() => a.append(S, T0, 2)).reason).toBe('duplicate_timestamp');
  });

  it('accepts out-of-order samples inside the window and refuses older ones, naming series and window', () => {
    const { db } = store({ outOfOrderWindowMs: HOUR });
    write(db, [{ t: T0 + 2 * HOUR, v: 5 }]);
    write(db, [{ t: T0 + HOUR, v: 4 }]); // exactly at the window's edge
    write(db, [{ t: T0 + 90 * 60_000, v: 4.5 }]);
    const a = db.appender();
    const err = rejection(() => a.append(S, T0 + HOUR - 1, 3));
    expect(err.reason).toBe('too_old');
    expect(err.message).toMatch(/node_load1\{instance="a"\}/);
    expect(err.message).toMatch(/window is 1h/);
    a.rollback();
    expect(read(db).map((x) => x[0])).toEqual([T0 + HOUR, T0 + 90 * 60_000, T0 + 2 * HOUR]);
  });

  it('detects a conflicting out-of-order sample against stored chunks and the head', () => {
    const { db } = store({ outOfOrderWindowMs: HOUR, chunkRangeMs: 60_000 });
    const samples: Array<{ t: number; v: number }> = [];
    for (let i = 0; i < 30; i++) samples.push({ t: T0 + i * 10_000, v: i });
    write(db, samples);
    db.flush(); // everything into SQLite chunks
    write(db, [{ t: T0 + 300_000, v: 30 }]);
    const a = db.appender();
    expect(rejection(() => a.append(S, T0 + 50_000, 99)).reason).toBe('duplicate_timestamp');
    a.append(S, T0 + 50_000, 5); // identical: ignored
    a.append(S, T0 + 55_000, 5.5); // new: accepted out of order
    a.commit();
    const got = read(db);
    expect(got).toHaveLength(32);
    expect(got.find((x) => x[0] === T0 + 55_000)).toEqual([T0 + 55_000, bits(5.5)]);
  });

  it('stores stale markers bit for bit and hides a series whose newest sample is stale from latestSamples', () => {
    const { db } = store();
    const other = ls({ __name__: 'node_load1', instance: 'b' });
    write(db, [
      { t: T0, v: 1 },
      { t: T0 + 10_000, v: STALE_NAN },
    ]);
    write(db, [{ t: T0, v: NaN }], other);
    expect(read(db)).toEqual([
      [T0, bits(1)],
      [T0 + 10_000, '7ff0000000000002'],
    ]);
    const latest = [...db.latestSamples()];
    expect(latest).toHaveLength(1);
    expect(latest[0].labels).toEqual(other);
    expect(Number.isNaN(latest[0].v) && !isStaleNaN(latest[0].v)).toBe(true);
  });

  it('keeps the samples of an appender that rolled back out, and refuses use after commit', () => {
    const { db } = store();
    const a = db.appender();
    a.append(S, T0, 1);
    a.rollback();
    expect(read(db)).toEqual([]);
    const b = db.appender();
    b.commit();
    expect(() => b.append(S, T0, 1)).toThrow(/already committed/);
  });

  it('re-checks a batch whose checks were overtaken by another commit', () => {
    const { db } = store();
    const slow = db.appender();
    slow.append(S, T0, 1);
    write(db, [{ t: T0, v: 2 }]);
    expect(() => slow.commit()).toThrow(StorageError);
    expect(read(db)).toEqual([[T0, bits(2)]]);
  });
});

describe('bad data', () => {
  it.each([
    { name: '1,000 labels', labels: ls(Object.fromEntries([['__name__', 'x'], ...Array.from({ length: 999 }, (_, i) => [`l${i}`, 'v'])])), reason: 'limit', message: /1000 labels; at most 128/ },
    { name: 'a 1 MB label value', labels: ls({ __name__: 'x', big: 'v'.repeat(1 << 20) }), reason: 'limit', message: /1048576 characters long/ },
    { name: 'no metric name', labels: ls({ job: 'x' }), reason: 'invalid_labels', message: /without __name__/ },
    { name: 'an invalid label name', labels: [{ name: '__name__', value: 'x' }, { name: 'bad-name', value: 'v' }], reason: 'invalid_labels', message: /invalid label name "bad-name"/ },
  ])('refuses a series with $name and keeps the rest of the request', ({ labels, reason, message }) => {
    const { db } = store();
    const a = db.appender();
    a.append(S, T0, 1);
    const err = rejection(() => a.append(labels, T0, 1));
    expect(err.reason).toBe(reason);
    expect(err.message).toMatch(message);
    expect(err.message.length).toBeLessThan(1000);
    a.append(S, T0 + 1, 2);
    a.commit();
    expect(read(db)).toHaveLength(2);
    expect(db.stats().series).toBe(1);
  });

  it('refuses a timestamp that is not an integer', () => {
    const { db } = store();
    const a = db.appender();
    expect(rejection(() => a.append(S, 1.5, 1)).message).toMatch(/not an integer/);
    expect(rejection(() => a.append(S, NaN, 1)).message).toMatch(/not an integer/);
  });

  it('stores NaN, infinities and extreme values bit for bit, also after reopen', () => {
    const { db, opts } = store();
    const values = Float64Array.of(NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, -0, STALE_NAN, 1e308);
    write(
      db,
      Array.from(values, (v, i) => ({ t: T0 + i * 1000, v })),
    );
    const want = Array.from(values, (v, i) => [T0 + i * 1000, bits(v)]);
    expect(want[6][1]).toBe('7ff0000000000002');
    expect(read(db)).toEqual(want);
    db.close();
    const again = openTsdb(opts);
    open.push({ db: again, cleanup: () => {} });
    expect(read(again)).toEqual(want);
  });

  it('refuses bad options with the option name', () => {
    expect(() => openTsdb({ dataDir: ':memory:', retentionMs: -1 })).toThrow(/retentionMs must be a positive number/);
    expect(() => openTsdb({ dataDir: ':memory:', chunkMaxSamples: 70_000 })).toThrow(/chunkMaxSamples/);
  });
});
