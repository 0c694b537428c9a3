/**
 * Reads of many series at once: `select` fetches the chunks of all matched series with
 * one statement per chunk table and decodes them into shared slabs. Checked here at a
 * volume the property tests do not reach (several slabs per answer, one series larger
 * than a slab, series whose stored chunks end before the window, out-of-order chunks
 * overlapping in-order ones), live, after flush, after compaction and after reopen:
 * every answer equals the written samples bit for bit, and equals the same series
 * selected one at a time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { STALE_NAN } from '../../shared/index.js';
import type { Matcher, Series } from '../../collector/storage/index.js';
import { openTsdb, type Tsdb } from '../../collector/tsdb/index.js';
import { ls, rng, tempDir } from './helpers.js';

const T0 = 1_700_000_000_000;
const STEP = 10_000;
const MANY = 200;
const PER = 2_000;
const BIG = 150_000; // more samples than one slab holds (131,072)

let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

/** Expected samples: series index → time → value. */
type Model = Map<number, Map<number, number>>;

const labelsOf = (i: number) => ls({ __name__: 'read_many', idx: String(i).padStart(4, '0') });

function write(db: Tsdb, model: Model): void {
  const r = rng(5);
  const put = (i: number, t: number, v: number) => {
    let m = model.get(i);
    if (!m) model.set(i, (m = new Map()));
    m.set(t, v);
  };
  // Series i covers ticks [start, start + PER), starts spread so that some end early.
  for (let k = 0; k < PER + MANY * 20; k += 100) {
    const app = db.appender();
    for (let i = 0; i < MANY; i++) {
      const start = i * 20;
      for (let j = k; j < k + 100; j++) {
        if (j < start || j >= start + PER) continue;
        const t = T0 + j * STEP + (i % 5);
        const v = r() < 0.01 ? STALE_NAN : i * 1000 + Math.floor(r() * 100) / 4;
        app.append(labelsOf(i), t, v);
        put(i, t, v);
      }
    }
    app.commit();
  }
  // The big series: one sample a second.
  for (let k = 0; k < BIG; k += 10_000) {
    const app = db.appender();
    for (let j = k; j < k + 10_000; j++) {
      const t = T0 + j * 1000;
      app.append(labelsOf(MANY), t, j * 0.25);
      put(MANY, t, j * 0.25);
    }
    app.commit();
  }
  // Out-of-order samples between the in-order ones of every 7th series, within its window.
  const app = db.appender();
  for (let i = 0; i < MANY; i += 7) {
    const m = model.get(i) as Map<number, number>;
    const newest = Math.max(...m.keys());
    for (let j = 1; j <= 50; j++) {
      const t = newest - j * STEP - 3_333;
      app.append(labelsOf(i), t, -j);
      put(i, t, -j);
    }
  }
  app.commit();
}

function expectModel(got: readonly Series[], model: Model, ids: readonly number[], mint: number, maxt: number, context: string): void {
  const want = ids
    .map((i) => ({ i, ts: [...(model.get(i) as Map<number, number>).keys()].filter((t) => t >= mint && t <= maxt).sort((a, b) => a - b) }))
    .filter((x) => x.ts.length > 0);
  expect(got.length, `${context}: series`).toBe(want.length);
  const bits = new Float64Array(2);
  const u = new Uint32Array(bits.buffer);
  for (let k = 0; k < want.length; k++) {
    const { i, ts } = want[k];
    const m = model.get(i) as Map<number, number>;
    const s = got[k];
    expect(s.labels, context).toEqual(labelsOf(i));
    expect(s.t.length, `${context}: samples of series ${i}`).toBe(ts.length);
    for (let j = 0; j < ts.length; j++) {
      bits[0] = s.v[j];
      bits[1] = m.get(ts[j]) as number;
      if (s.t[j] !== ts[j] || u[0] !== u[2] || u[1] !== u[3]) {
        expect(`${s.t[j]}=${s.v[j]}`, `${context}: series ${i} sample ${j}`).toBe(`${ts[j]}=${bits[1]}`);
      }
    }
  }
}

function check(db: Tsdb, model: Model, context: string): void {
  const ids = [...model.keys()].sort((a, b) => a - b);
  const all: Matcher[] = [{ type: '=', name: '__name__', value: 'read_many' }];
  const end = T0 + (PER + MANY * 20) * STEP;
  const windows: Array<[number, number]> = [
    [-Infinity, Infinity],
    [T0, T0 + 3_600_000],
    [end - 3_600_000, end],
    [T0 + 1_000_000, T0 + 1_000_000 + 86_400_000],
    [T0 + BIG * 1000 - 1, end], // after the big series' last sample, before many others'
  ];
  for (const [mint, maxt] of windows) {
    const ctx = `${context} [${mint}, ${maxt}]`;
    const got = db.querier(mint, maxt).select(all);
    expectModel(got, model, ids, mint, maxt, ctx);
    // One at a time (the single-series statements) gives the same answer.
    for (const i of [0, 7, 13, MANY - 1, MANY]) {
      const one = db.querier(mint, maxt).select([...all, { type: '=', name: 'idx', value: String(i).padStart(4, '0') }]);
      expectModel(one, model, [i], mint, maxt, `${ctx} series ${i} alone`);
    }
  }
}

describe('tsdb reads of many series', () => {
  it('return every written sample across slabs, chunk tables, the head and reopen', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = { now: T0 + 200 * 3_600_000 };
    const opts = { dataDir: dir, maintenanceIntervalMs: 0, now: () => clock.now };
    let db = openTsdb(opts);
    cleanups.unshift(() => db.close());
    const model: Model = new Map();
    write(db, model);
    check(db, model, 'live');
    db.flush();
    check(db, model, 'flushed');
    await db.runMaintenance();
    check(db, model, 'compacted');
    db.close();
    db = openTsdb(opts);
    check(db, model, 'reopened');
  });
});
