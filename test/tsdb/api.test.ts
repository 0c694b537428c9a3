/**
 * The rest of the Storage contract: metadata, lifecycle, label queries and hints.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { openTsdb, type Tsdb } from '../../collector/tsdb/index.js';
import { ls, tempDir } from './helpers.js';

const T0 = 1_700_000_000_000;
let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

function open(dir: string, registry?: Registry): Tsdb {
  const db = openTsdb({ dataDir: dir, maintenanceIntervalMs: 0, registry });
  cleanups.unshift(() => db.close());
  return db;
}

describe('tsdb api', () => {
  it('keeps metadata across a reopen, last writer winning', () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const db = open(dir);
    const a = db.appender();
    a.updateMetadata({ metric: 'up', type: 'gauge', help: 'old', unit: '' });
    a.updateMetadata({ metric: 'up', type: 'gauge', help: 'Target is up.', unit: '' });
    a.commit();
    db.close();
    const again = open(dir);
    expect(again.metadata().get('up')).toEqual({ metric: 'up', type: 'gauge', help: 'Target is up.', unit: '' });
  });

  it('answers label names and values for matching series', () => {
    const db = open(':memory:');
    const a = db.appender();
    a.append(ls({ __name__: 'a', job: 'x', pod: 'p1' }), T0, 1);
    a.append(ls({ __name__: 'a', job: 'y', pod: 'p2' }), T0, 1);
    a.append(ls({ __name__: 'b', job: 'x', container: 'c' }), T0, 1);
    a.commit();
    const q = db.querier(T0 - 1000, T0 + 1000);
    expect(q.labelNames()).toEqual(['__name__', 'container', 'job', 'pod']);
    expect(q.labelNames([{ type: '=', name: '__name__', value: 'a' }])).toEqual(['__name__', 'job', 'pod']);
    expect(q.labelValues('job')).toEqual(['x', 'y']);
    expect(q.labelValues('pod', [{ type: '!=', name: 'job', value: 'y' }])).toEqual(['p1']);
    expect(q.labelValues('pod', [{ type: '=~', name: 'pod', value: 'p.' }, { type: '!~', name: 'job', value: 'x|z' }])).toEqual(['p2']);
    // Out of range: nothing.
    expect(db.querier(T0 + 5000, T0 + 6000).labelNames()).toEqual([]);
  });

  it('returns results that later appends do not change', () => {
    const db = open(':memory:');
    const s = ls({ __name__: 'a' });
    let a = db.appender();
    a.append(s, T0, 1);
    a.commit();
    const got = db.querier(T0, T0 + 10_000).select([{ type: '=', name: '__name__', value: 'a' }]);
    a = db.appender();
    a.append(s, T0 + 1000, 2);
    a.commit();
    expect(Array.from(got[0].t)).toEqual([T0]);
  });

  it('closes idempotently and refuses use after close', () => {
    const db = openTsdb({ dataDir: ':memory:', maintenanceIntervalMs: 0 });
    db.close();
    db.close();
    expect(() => db.appender()).toThrow(/closed/);
    expect(() => db.querier(0, 1)).toThrow(/closed/);
  });

  it('re-registers its self-metrics when reopened on the same registry', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const registry = new Registry();
    open(dir, registry).close();
    const db = open(dir, registry);
    const a = db.appender();
    a.append(ls({ __name__: 'a' }), T0, 1);
    a.commit();
    expect(await registry.getSingleMetricAsString('kubepulse_tsdb_head_series')).toContain('kubepulse_tsdb_head_series 1');
  });

  it('runs the maintenance timer on its own, without holding the process open', async () => {
    const db = openTsdb({ dataDir: ':memory:', maintenanceIntervalMs: 20, chunkRangeMs: 1000, now: () => T0 + 1e6 });
    cleanups.unshift(() => db.close());
    const a = db.appender();
    a.append(ls({ __name__: 'a' }), T0, 1);
    a.commit();
    expect(db.stats().walBytes).toBeGreaterThan(0);
    // The idle head is cut and written by the timer's pass, which empties the WAL.
    await new Promise((r) => setTimeout(r, 300));
    expect(db.stats().walBytes).toBe(0);
    expect(db.stats().chunks).toBe(1);
  });
});
