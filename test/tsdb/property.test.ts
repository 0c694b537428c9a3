/**
 * Property tests: random series and samples (in order, out of order inside and outside
 * the window, duplicates, conflicts, NaN and stale markers) go through the appender of
 * the store and of a naive model side by side; every accept/reject decision must agree,
 * and random selects (time ranges, =, !=, =~, !~ matchers) must return exactly the model's
 * samples, bit for bit — live, after compaction, and after close and reopen.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Labels } from '../../shared/index.js';
import { compareLabels, float64Bits, isStaleNaN, labelsKey, STALE_NAN } from '../../shared/index.js';
import type { Matcher, Series } from '../../collector/storage/index.js';
import { matchLabels, StorageError } from '../../collector/storage/index.js';
import { openTsdb, type Tsdb, type TsdbOptions } from '../../collector/tsdb/index.js';
import { expectSameSeries, ls, rng, tempDir } from './helpers.js';

const WINDOW = 5_000;

/** The ordering rules, written as plainly as possible. */
class Model {
  readonly samples = new Map<string, { labels: Labels; m: Map<number, number> }>();
  private committedMax = new Map<string, number>();
  private pending: Array<{ key: string; labels: Labels; t: number; v: number }> = [];

  /** 'ok' | 'dup' | a rejection reason. */
  append(labels: Labels, t: number, v: number): string {
    const key = labelsKey(labels);
    for (const p of this.pending) {
      if (p.key === key && p.t === t) return float64Bits(p.v) === float64Bits(v) ? 'dup' : 'duplicate_timestamp';
    }
    const max = this.committedMax.get(key) ?? -Infinity;
    if (t < max - WINDOW) return 'too_old';
    const old = this.samples.get(key)?.m.get(t);
    if (old !== undefined) return float64Bits(old) === float64Bits(v) ? 'dup' : 'duplicate_timestamp';
    this.pending.push({ key, labels, t, v });
    return 'ok';
  }

  commit(): void {
    for (const p of this.pending) {
      let s = this.samples.get(p.key);
      if (!s) this.samples.set(p.key, (s = { labels: p.labels, m: new Map() }));
      s.m.set(p.t, p.v);
      this.committedMax.set(p.key, Math.max(this.committedMax.get(p.key) ?? -Infinity, p.t));
    }
    this.pending = [];
  }

  rollback(): void {
    this.pending = [];
  }

  /**
   * The expected reads. Not MemoryStorage: it keeps values in plain JS arrays, where V8
   * sets the quiet bit of NaNs, so it cannot return stale markers bit for bit.
   */
  querier(mint: number, maxt: number) {
    const inRange = (s: { m: Map<number, number> }) => [...s.m.keys()].filter((t) => t >= mint && t <= maxt).sort((a, b) => a - b);
    const matching = (ms?: readonly Matcher[]) => [...this.samples.values()].filter((s) => (!ms || matchLabels(ms, s.labels)) && inRange(s).length > 0);
    return {
      select: (ms: readonly Matcher[]): Series[] =>
        matching(ms)
          .map((s) => {
            const ts = inRange(s);
            return { labels: s.labels, t: Float64Array.from(ts), v: Float64Array.from(ts, (t) => s.m.get(t) as number) };
          })
          .sort((a, b) => compareLabels(a.labels, b.labels)),
      labelNames: (ms?: readonly Matcher[]) => [...new Set(matching(ms).flatMap((s) => s.labels.map((l) => l.name)))].sort(),
      labelValues: (name: string, ms?: readonly Matcher[]) =>
        [...new Set(matching(ms).flatMap((s) => s.labels.filter((l) => l.name === name).map((l) => l.value)))].sort(),
    };
  }

  *latestSamples(): Iterable<{ labels: Labels; t: number; v: number }> {
    for (const s of this.samples.values()) {
      const t = Math.max(...s.m.keys());
      const v = s.m.get(t) as number;
      if (!isStaleNaN(v)) yield { labels: s.labels, t, v };
    }
  }
}

const NAMES = ['cpu_seconds_total', 'mem_bytes', 'up'];
const PODS = ['pod-1', 'pod-2', 'pod-10', 'web-a', 'web-b'];
const JOBS = ['kubelet', 'node-exporter'];

function randomLabels(r: () => number): Labels {
  const o: Record<string, string> = { __name__: NAMES[Math.floor(r() * NAMES.length)], job: JOBS[Math.floor(r() * JOBS.length)] };
  if (r() < 0.8) o.pod = PODS[Math.floor(r() * PODS.length)];
  if (r() < 0.3) o.container = r() < 0.5 ? 'app' : 'sidecar';
  return ls(o);
}

function randomMatchers(r: () => number): Matcher[] {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const all: Matcher[] = [
    { type: '=', name: '__name__', value: pick(NAMES) },
    { type: '=~', name: '__name__', value: pick(['cpu.*', 'mem_bytes|up', '.+', 'nomatch']) },
    { type: '!=', name: 'job', value: pick(JOBS) },
    { type: '=', name: 'job', value: pick(JOBS) },
    { type: '=~', name: 'pod', value: pick(['pod-(1|2)', 'web-.*', '', 'pod-1.*', '.*']) },
    { type: '!~', name: 'pod', value: pick(['web-.*', '', 'pod-1']) },
    { type: '!=', name: 'container', value: pick(['app', '']) },
    { type: '=', name: 'container', value: pick(['', 'sidecar']) },
  ];
  const n = 1 + Math.floor(r() * 3);
  const out: Matcher[] = [];
  for (let i = 0; i < n; i++) out.push(pick(all));
  return out;
}

function randomValue(r: () => number, prev: number): number {
  const x = r();
  if (x < 0.03) return STALE_NAN;
  if (x < 0.05) return NaN;
  if (x < 0.5) return prev + Math.floor(r() * 50);
  if (x < 0.7) return prev;
  return r() * 1e4;
}

interface Run {
  db: Tsdb;
  model: Model;
  dir: string;
  clock: { now: number };
  opts: TsdbOptions;
}

function ingest(run: Run, r: () => number, batches: number): void {
  const pool = Array.from({ length: 25 }, () => randomLabels(r));
  const last = new Map<string, { t: number; v: number }>();
  for (let b = 0; b < batches; b++) {
    const app = run.db.appender();
    const nSamples = 1 + Math.floor(r() * 60);
    for (let i = 0; i < nSamples; i++) {
      const labels = pool[Math.floor(r() * pool.length)];
      const key = labelsKey(labels);
      const prev = last.get(key) ?? { t: 1_000_000 + Math.floor(r() * 10_000), v: 0 };
      const kind = r();
      let t: number;
      let v: number;
      if (kind < 0.7) {
        t = prev.t + 500 + Math.floor(r() * 1000);
        v = randomValue(r, prev.v);
      } else if (kind < 0.8) {
        t = prev.t - Math.floor(r() * 2 * WINDOW); // some inside the window, some beyond
        v = randomValue(r, prev.v);
      } else if (kind < 0.9) {
        t = prev.t;
        v = prev.v; // a retry
      } else {
        t = prev.t;
        v = prev.v + 1; // a conflict
      }
      const want = run.model.append(labels, t, v);
      let got = 'ok';
      try {
        const before = (app as unknown as { nDup: number }).nDup;
        app.append(labels, t, v);
        if ((app as unknown as { nDup: number }).nDup !== before) got = 'dup';
      } catch (err) {
        if (!(err instanceof StorageError)) throw err;
        got = err.reason;
      }
      expect(got, `batch ${b} sample ${i}: ${key} t=${t}`).toBe(want);
      if (want === 'ok' && t > prev.t) last.set(key, { t, v });
    }
    run.clock.now = Math.max(run.clock.now, ...[...last.values()].map((x) => x.t));
    if (r() < 0.1) {
      app.rollback();
      run.model.rollback();
    } else {
      app.commit();
      run.model.commit();
    }
    // Rolled-back samples must not steer the generator.
    for (const [key, x] of last) {
      const s = run.model.samples.get(key);
      if (!s || !s.m.has(x.t)) last.delete(key);
    }
  }
}

function check(run: Run, r: () => number, rounds: number, context: string): void {
  const want = run.model;
  for (let i = 0; i < rounds; i++) {
    const a = 990_000 + Math.floor(r() * 200_000);
    const mint = r() < 0.2 ? -Infinity : a;
    const maxt = r() < 0.2 ? Infinity : a + Math.floor(r() * 100_000);
    const ms = randomMatchers(r);
    const got = run.db.querier(mint, maxt).select(ms);
    expectSameSeries(got, want.querier(mint, maxt).select(ms), `${context}: select ${JSON.stringify(ms)} in [${mint}, ${maxt}]`);
  }
  const all = run.db.querier(-Infinity, Infinity);
  const wantAll = want.querier(-Infinity, Infinity);
  expect(all.labelNames()).toEqual(wantAll.labelNames());
  expect(all.labelValues('pod')).toEqual(wantAll.labelValues('pod'));
  const ms: Matcher[] = [{ type: '=', name: 'job', value: 'kubelet' }];
  expect(all.labelValues('__name__', ms)).toEqual(wantAll.labelValues('__name__', ms));
  const latest = new Map([...run.db.latestSamples()].map((x) => [labelsKey(x.labels), `${x.t}:${float64Bits(x.v)}`]));
  const wantLatest = new Map([...want.latestSamples()].map((x) => [labelsKey(x.labels), `${x.t}:${float64Bits(x.v)}`]));
  expect(latest, `${context}: latestSamples`).toEqual(wantLatest);
}

describe('tsdb property tests', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it.each([11, 22, 33, 44, 55, 66])('reads back exactly what the model holds (seed %i)', async (seed) => {
    const r = rng(seed);
    const { dir, cleanup } = tempDir();
    const clock = { now: 0 };
    const opts: TsdbOptions = {
      dataDir: dir,
      outOfOrderWindowMs: WINDOW,
      // Tiny chunks and windows so that cuts, merges and rollups all happen.
      chunkRangeMs: 4_000,
      chunkMaxSamples: 5,
      compactRangeMs: 16_000,
      rollupWindowMs: 600_000,
      maintenanceIntervalMs: 0,
      now: () => clock.now,
    };
    const run: Run = { db: openTsdb(opts), model: new Model(), dir, clock, opts };
    cleanups.push(() => {
      try {
        run.db.close();
      } catch {
        /* already closed */
      }
      cleanup();
    });
    ingest(run, r, 60);
    check(run, r, 40, 'live');

    await run.db.runMaintenance();
    check(run, r, 40, 'after compaction');
    expect(run.db.stats().chunks).toBeGreaterThan(0);

    run.db.close();
    run.db = openTsdb(opts);
    check(run, r, 40, 'after reopen');

    ingest(run, r, 40);
    await run.db.runMaintenance();
    check(run, r, 40, 'after more writes and compaction');

    // An unclean stop: the store is abandoned without close, then opened from disk.
    ingest(run, r, 20);
    const abandoned = run.db;
    run.db = openTsdb(opts);
    check(run, r, 40, 'after replaying the WAL');
    void abandoned;
  });
});
