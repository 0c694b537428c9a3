/**
 * Collector down for ten minutes of agent time while the agent keeps sampling: the
 * real Shipper with its disk spool, a real collector (fastify + writePlugin + SQLite).
 * Agent time runs fast: a 10 s tick is enqueued every few ms, so ten minutes (60 ticks)
 * take well under a second of wall time.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Shipper } from '../../agent/shipper/shipper.js';
import { waitFor } from '../helpers/procs.js';
import { checkComplete, startCollector, syntheticBatch, type InProcessCollector } from './helpers.js';

const SERIES = 300;
const STEP = 10_000;

describe('collector outage', () => {
  let dir: string;
  let collector: InProcessCollector | undefined;
  let shipper: Shipper | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kp-outage-'));
  });
  afterEach(async () => {
    await shipper?.stop(0);
    await collector?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores every sample of a 10-minute outage, in order, with no gap, and empties the spool', async () => {
    const commits: Array<{ minT: number; maxT: number; at: number }> = [];
    let restartedAt = Infinity;
    const onCommit = (minT: number, maxT: number) => commits.push({ minT, maxT, at: performance.now() });
    collector = await startCollector(join(dir, 'db'), 0, {}, onCommit);
    const port = collector.port;
    const dropped: string[] = [];
    shipper = new Shipper({
      url: collector.url,
      maxSeriesPerRequest: 100,
      timeoutMs: 2000,
      minBackoffMs: 10,
      maxBackoffMs: 100,
      spoolDir: join(dir, 'spool'),
      spoolSegmentBytes: 64 * 1024,
      liveAgeMs: 150,
      backfillSamplesPerSecond: 30_000,
      metrics: { sent() {}, failed() {}, dropped: (r) => dropped.push(r), queueLength() {}, pushDuration() {} },
    });
    shipper.start();
    const t0 = Math.floor(Date.now() / STEP) * STEP - 10 * 60_000;
    let tick = 0;
    const run = async (n: number) => {
      for (let k = 0; k < n; k++, tick++) {
        shipper!.enqueue(syntheticBatch(t0 + tick * STEP, tick, SERIES));
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await run(20);
    await waitFor('the first ticks delivered', () => shipper!.pending === 0, 10_000, 10);

    await collector.close();
    collector = undefined;
    const outageStart = tick;
    await run(60); // ten minutes of 10 s ticks
    expect(shipper.pending).toBeGreaterThan(0);
    expect(readdirSync(join(dir, 'spool')).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(1);
    const outageEnd = tick;

    collector = await startCollector(join(dir, 'db'), port, {}, onCommit);
    restartedAt = performance.now();
    await run(20);
    await waitFor('the backlog delivered', () => shipper!.pending === 0, 20_000, 20);

    expect(dropped).toEqual([]);
    expect(checkComplete(collector.store, 'n1', SERIES, tick, t0, STEP)).toEqual([]);
    expect(shipper.pendingSamples).toBe(0);
    // Only the open segment may remain, with nothing undelivered in it.
    expect(readdirSync(join(dir, 'spool')).filter((f) => f.endsWith('.seg')).length).toBeLessThanOrEqual(1);

    // Backfill: outage requests stored oldest first; live ones not held behind all of them.
    // The first request stored is the one being retried when the collector came back.
    const after = commits.filter((c) => c.at >= restartedAt).slice(1);
    const show = after.map((c) => `${(c.minT - t0) / STEP}-${(c.maxT - t0) / STEP}`).join(' ');
    const backfillStart = after.findIndex((c) => c.minT === t0 + outageStart * STEP);
    const backlog = after.slice(backfillStart).filter((c) => c.minT < t0 + outageEnd * STEP);
    // Merged requests span ticks and overlap, so "in order" means: no request stored
    // after another is entirely older than it.
    for (let i = 0; i < backlog.length; i++) {
      for (let j = i + 1; j < backlog.length; j++) expect(backlog[j].maxT, show).toBeGreaterThanOrEqual(backlog[i].minT);
    }
    const firstLive = after.findIndex((c) => c.minT >= t0 + outageEnd * STEP);
    expect(firstLive, show).toBeGreaterThanOrEqual(0);
    expect(firstLive, show).toBeLessThan(backfillStart);
  });

  it('drops the oldest samples when the spool is full, counted, and delivers the rest', async () => {
    collector = await startCollector(join(dir, 'db'));
    const port = collector.port;
    await collector.close();
    collector = undefined;
    let droppedSamples = 0;
    shipper = new Shipper({
      url: `http://127.0.0.1:${port}`,
      maxSeriesPerRequest: 100,
      timeoutMs: 2000,
      minBackoffMs: 10,
      maxBackoffMs: 50,
      spoolDir: join(dir, 'spool'),
      spoolMaxBytes: 256 * 1024,
      backfillSamplesPerSecond: 500_000,
      metrics: { sent() {}, failed() {}, dropped: (r, n) => r === 'spool_full' && (droppedSamples += n), queueLength() {}, pushDuration() {} },
    });
    shipper.start();
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 400; i++) shipper.enqueue(syntheticBatch(t0 + i * STEP, i, SERIES));
    expect(droppedSamples).toBeGreaterThan(0);
    expect(shipper.spoolBytes).toBeLessThanOrEqual(256 * 1024 * 1.2);
    const kept = shipper.pendingSamples;
    expect(kept + droppedSamples).toBe(400 * SERIES);
    collector = await startCollector(join(dir, 'db'), port);
    await waitFor('the spool delivered', () => shipper!.pending === 0, 20_000, 20);
    // What was kept is the newest: every series contiguous up to the last tick.
    const q = collector.store.querier(0, Number.MAX_SAFE_INTEGER);
    const all = q.select([{ type: '=', name: '__name__', value: 'fault_test_value' }]);
    expect(all).toHaveLength(SERIES);
    expect(all.reduce((n, x) => n + x.t.length, 0)).toBe(kept);
    for (const x of all) {
      expect(x.t.at(-1)).toBe(t0 + 399 * STEP);
      expect(x.t.at(-1)! - x.t[0]).toBe((x.t.length - 1) * STEP);
    }
  });
});
