/**
 * Rule evaluation asks the TSDB the same selectors at one timestamp many times, with
 * writes (recording rules, ALERTS, late and out-of-order samples, new series, background
 * maintenance) between the questions; the TSDB answers repeats from its select cache and
 * the engine reuses subexpression results across queries over it. This checks that every
 * answer equals the one an uncached store (MemoryStorage) gives for the same writes, at
 * every point of such an interleaving.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Labels } from '../../shared/index.js';
import { labelsFromObject } from '../../shared/index.js';
import { MemoryStorage, StorageError } from '../storage/index.js';
import { openTsdb, type Tsdb } from '../tsdb/index.js';
import { Engine } from './index.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const QUERIES = [
  'm',
  'm{pod=~"p[0-2]"}',
  'sum by (pod) (rate(m[5m]))',
  'max_over_time(m{pod!="p1"}[5m])',
  'count(m) + count(rec)',
  'rec',
  'last_over_time(rec[10m])',
  'absent(m{pod="p9"})',
  // Rules that repeat a subexpression with other thresholds: the engine shares it.
  'sum by (pod) (rate(m[5m])) > 0.01',
  'sum by (pod) (rate(m[5m])) > 0.02',
  'max by (pod) (m) / on (pod) max by (pod) (last_over_time(m[10m])) >= 1',
  'max by (pod) (m) / on (pod) max by (pod) (last_over_time(m[10m])) >= 0.5',
  'max_over_time(m{pod!="p1"}[5m]) >= 50',
  '-max_over_time(m{pod!="p1"}[5m]) < -50',
];

describe('TSDB select cache under interleaved writes', () => {
  const dirs: string[] = [];
  const dbs: Tsdb[] = [];
  afterEach(() => {
    for (const db of dbs.splice(0)) db.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it.each([1, 2, 3])('answers like an uncached store (seed %i)', async (seed) => {
    const r = rng(seed);
    const dir = mkdtempSync(join(tmpdir(), 'kp-select-cache-'));
    dirs.push(dir);
    const clock = { now: 0 };
    const db = openTsdb({
      dataDir: dir,
      outOfOrderWindowMs: 600_000,
      chunkRangeMs: 120_000,
      chunkMaxSamples: 8,
      compactRangeMs: 240_000,
      rollupWindowMs: 600_000,
      maintenanceIntervalMs: 0,
      now: () => clock.now,
    });
    dbs.push(db);
    const mem = new MemoryStorage();
    const engine = new Engine();
    const last = new Map<string, number>();
    // Appends the same samples to both stores; the TSDB decides what it accepts.
    const write = (samples: Array<[Labels, number, number]>): void => {
      const app = db.appender();
      const ok: Array<[Labels, number, number]> = [];
      for (const s of samples) {
        try {
          app.append(...s);
          ok.push(s);
        } catch (err) {
          if (!(err instanceof StorageError)) throw err;
        }
      }
      app.commit();
      for (const [l, t, v] of ok) mem.add(l, t, v);
    };
    const series = (i: number): Labels => labelsFromObject({ __name__: 'm', pod: `p${i}` });
    let t = 1_000_000;
    let pods = 3;
    let checked = 0;
    for (let round = 0; round < 30; round++) {
      t += 15_000;
      clock.now = t;
      const batch: Array<[Labels, number, number]> = [];
      for (let i = 0; i < pods; i++) {
        const prev = last.get(`p${i}`) ?? t - 60_000;
        // Some series lag (their next sample lands inside the window later), some go
        // out of order, one new series now and then.
        const ts = r() < 0.15 ? prev - Math.floor(r() * 200_000) : r() < 0.3 ? prev + 1000 : t;
        batch.push([series(i), ts, Math.floor(r() * 100)]);
        if (ts > prev) last.set(`p${i}`, ts);
      }
      if (r() < 0.2) pods++;
      write(batch);
      // A rule group's round: every query at one timestamp, with writes between them.
      const at = t - Math.floor(r() * 3) * 1000;
      for (let q = 0; q < QUERIES.length * 2; q++) {
        const expr = QUERIES[q % QUERIES.length];
        const [got, want] = await Promise.all([engine.instantQuery(db, expr, at), engine.instantQuery(mem, expr, at)]);
        expect(got.value, `round ${round}, ${expr} at ${at}`).toEqual(want.value);
        checked++;
        const k = Math.floor(r() * 4);
        if (k === 0) write([[labelsFromObject({ __name__: 'rec', q: String(q % 3) }), at, q]]);
        else if (k === 1) write([[series(Math.floor(r() * pods)), at - Math.floor(r() * 100_000), q]]);
      }
      if (r() < 0.3) await db.runMaintenance();
    }
    expect(checked).toBe(30 * QUERIES.length * 2);
  });
});
