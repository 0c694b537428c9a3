/**
 * The select cache's validity checks (the per-metric-name write counter and the
 * per-series fallback), read-only answers handed out without a copy, and the appender's
 * memory of label arrays across commits and retention.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Labels } from '../../shared/index.js';
import type { Matcher } from '../storage/index.js';
import { openTsdb, type Tsdb, type TsdbOptions } from './index.js';
import { ls, plain, tempDir } from '../../test/tsdb/helpers.js';

const DAY = 86_400_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % DAY);

let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

function open(extra: Partial<TsdbOptions> = {}): { db: Tsdb; clock: { now: number } } {
  const { dir, cleanup } = tempDir();
  const clock = { now: T0 };
  const db = openTsdb({ dataDir: dir, maintenanceIntervalMs: 0, now: () => clock.now, ...extra });
  cleanups.push(() => {
    db.close();
    cleanup();
  });
  return { db, clock };
}

function write(db: Tsdb, samples: Array<[Labels, number, number]>): void {
  const a = db.appender();
  for (const [l, t, v] of samples) a.append(l, t, v);
  a.commit();
}

const NAME: Matcher[] = [{ type: '=', name: '__name__', value: 'up' }];
const A = ls({ __name__: 'up', pod: 'a' });
const B = ls({ __name__: 'up', pod: 'b' });
const OTHER = ls({ __name__: 'ALERTS', alertname: 'x' });

describe('select cache', () => {
  it('hands out the same read-only answer while nothing of the metric changed, a fresh one after', () => {
    const { db } = open();
    write(db, [
      [A, T0, 1],
      [B, T0, 2],
    ]);
    const q = db.querier(T0 - 1000, T0 + 10_000);
    const first = q.select(NAME);
    expect(q.select(NAME)).toBe(first);
    // Writes to another metric between selects (what rules do) keep the answer.
    write(db, [[OTHER, T0 + 5000, 1]]);
    expect(q.select(NAME)).toBe(first);
    // A sample of a matched series inside the window: a new answer holding it.
    write(db, [[A, T0 + 5000, 3]]);
    const second = q.select(NAME);
    expect(second).not.toBe(first);
    expect(plain(second)).toEqual(plain(db.querier(T0 - 1000, T0 + 10_000).select([...NAME, { type: '!=', name: 'pod', value: 'z' }])));
    expect(Array.from(second[0].t)).toEqual([T0, T0 + 5000]);
    expect(Array.from(first[0].t)).toEqual([T0]); // the old answer is a snapshot
    // A new series of the metric: a new answer with it.
    write(db, [[ls({ __name__: 'up', pod: 'c' }), T0 + 6000, 4]]);
    const third = q.select(NAME);
    expect(third.map((s) => s.labels)).toEqual([A, B, ls({ __name__: 'up', pod: 'c' })]);
  });

  it('keeps the answer through writes to the metric after its window, re-validating per series', () => {
    const { db } = open();
    write(db, [
      [A, T0, 1],
      [B, T0 + 20_000, 2],
    ]);
    const q = db.querier(T0 - 1000, T0 + 10_000);
    const first = q.select(NAME);
    expect(first.map((s) => s.labels)).toEqual([A]);
    write(db, [[B, T0 + 30_000, 5]]); // bumps the metric's counter, lands after the window
    expect(q.select(NAME)).toBe(first);
    expect(q.select(NAME)).toBe(first);
    write(db, [[A, T0 + 9000, 5]]); // inside the window
    expect(Array.from(q.select(NAME)[0].t)).toEqual([T0, T0 + 9000]);
  });

  it('validates answers of selectors without a metric name series by series', () => {
    const { db } = open();
    write(db, [
      [A, T0, 1],
      [OTHER, T0, 2],
    ]);
    const byPod: Matcher[] = [{ type: '=~', name: 'pod', value: 'a|b' }];
    const q = db.querier(T0 - 1000, T0 + 10_000);
    const first = q.select(byPod);
    write(db, [[OTHER, T0 + 1000, 3]]);
    expect(q.select(byPod)).toBe(first);
    write(db, [[B, T0 + 1000, 3]]);
    expect(q.select(byPod).map((s) => s.labels)).toEqual([A, B]);
  });
});

describe('answer order', () => {
  it('stays in label order when a large answer reuses the order of the last one to the same matchers', () => {
    const { db } = open();
    // Ids in reverse label order, so an order taken by id would be wrong.
    const many = Array.from({ length: 400 }, (_, i) => ls({ __name__: 'g', pod: `p${String(399 - i).padStart(3, '0')}` }));
    const sorted = (xs: readonly Labels[]) => xs.map((l) => l.find((x) => x.name === 'pod')?.value);
    const pods = (t: number) => sorted(db.querier(t - 500, t).select([{ type: '=', name: '__name__', value: 'g' }]).map((x) => x.labels));
    const expected = (xs: Labels[]) => sorted(xs).sort();
    for (let k = 0; k < 3; k++) {
      write(db, many.map((l): [Labels, number, number] => [l, T0 + k * 1000, k]));
      expect(pods(T0 + k * 1000)).toEqual(expected(many)); // a new window each time: the same set, the same order
    }
    // A new series in the middle, then one series without a sample in the window.
    const extra = ls({ __name__: 'g', pod: 'p199x' });
    write(db, [...many.map((l): [Labels, number, number] => [l, T0 + 3000, 3]), [extra, T0 + 3000, 3]]);
    expect(pods(T0 + 3000)).toEqual(expected([...many, extra]));
    write(db, many.slice(1).map((l): [Labels, number, number] => [l, T0 + 4000, 4]));
    write(db, [[many[0], T0 + 4000 + 700, 4]]);
    expect(pods(T0 + 4000)).toEqual(expected(many.slice(1)));
    expect(pods(T0 + 4000 + 700)).toEqual(expected([many[0]]));
    // As many series as last time, but not the same ones.
    write(db, many.map((l): [Labels, number, number] => [l, T0 + 5000, 5]));
    expect(pods(T0 + 5000)).toEqual(expected(many));
    write(db, [...many.slice(1).map((l): [Labels, number, number] => [l, T0 + 6000, 6]), [extra, T0 + 6000, 6]]);
    expect(pods(T0 + 6000)).toEqual(expected([...many.slice(1), extra]));
  });
});

describe('appender label arrays', () => {
  it('appends the same array to its series across commits, and to a new one after retention removed it', async () => {
    const { db, clock } = open({ retentionMs: DAY, rollupRetentionMs: DAY });
    const labels = ls({ __name__: 'ALERTS', alertname: 'y' });
    write(db, [[labels, T0, 1]]);
    write(db, [[labels, T0 + 1000, 1]]);
    write(db, [[ls({ __name__: 'ALERTS', alertname: 'y' }), T0 + 2000, 1]]); // equal labels, another array
    expect(db.stats().series).toBe(1);
    expect(Array.from(db.querier(T0, T0 + 3000).select([{ type: '=', name: 'alertname', value: 'y' }])[0].t)).toEqual([T0, T0 + 1000, T0 + 2000]);
    db.flush();
    clock.now = T0 + 10 * DAY;
    await db.runMaintenance();
    expect(db.stats().series).toBe(0);
    write(db, [[labels, T0 + 10 * DAY, 7]]);
    expect(db.stats().series).toBe(1);
    expect(db.hasSeries(labels)).toBe(true);
    const got = db.querier(T0 + 10 * DAY - 1000, T0 + 10 * DAY).select([{ type: '=', name: '__name__', value: 'ALERTS' }]);
    expect(got.map((s) => [s.labels, Array.from(s.t), Array.from(s.v)])).toEqual([[labels, [T0 + 10 * DAY], [7]]]);
  });
});
