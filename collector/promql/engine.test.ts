import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { labelsFromObject } from '../../shared/index.js';
import { MemoryStorage } from '../storage/index.js';
import { Engine, engineQueryFunc, QueryError, ParseError } from './index.js';
import { runScript } from '../../test/promql/promqltest.js';
import { openTsdb } from '../tsdb/index.js';
import { tempDir } from '../../test/tsdb/helpers.js';

const TESTDATA = join(import.meta.dirname, 'testdata');

describe('promqltest cases of our own (Prometheus 2.x semantics)', () => {
  const engine = new Engine();
  it.each(readdirSync(TESTDATA).filter((f) => f.endsWith('.test')))('%s', async (file) => {
    const results = await runScript(readFileSync(join(TESTDATA, file), 'utf8'), engine);
    const failed = results.filter((r) => r.status !== 'pass');
    expect(failed, failed.map((f) => `${f.line} ${f.expr}: ${f.reason}`).join('\n')).toEqual([]);
    expect(results.length).toBeGreaterThan(10);
  });
});

describe('Engine', () => {
  const store = new MemoryStorage();
  for (let i = 0; i <= 60; i++) {
    store.add(labelsFromObject({ __name__: 'm', i: 'a' }), i * 60_000, i);
    store.add(labelsFromObject({ __name__: 'm', i: 'b' }), i * 60_000, 2 * i);
  }

  it('window semantics differ between compat v2 and v3 exactly at the window start', async () => {
    const v2 = await new Engine({ compat: 'v2' }).instantQuery(store, 'count_over_time(m{i="a"}[5m])', 10 * 60_000);
    const v3 = await new Engine({ compat: 'v3' }).instantQuery(store, 'count_over_time(m{i="a"}[5m])', 10 * 60_000);
    expect(v2.value.resultType === 'vector' && v2.value.result[0].v).toBe(6);
    expect(v3.value.resultType === 'vector' && v3.value.result[0].v).toBe(5);
  });

  it('range queries step from start to end and sort by labels', async () => {
    const r = await new Engine().rangeQuery(store, 'm * 2', 0, 10 * 60_000, 5 * 60_000);
    expect(r.value).toEqual({
      resultType: 'matrix',
      result: [
        { labels: labelsFromObject({ i: 'a' }), t: [0, 300_000, 600_000], v: [0, 10, 20] },
        { labels: labelsFromObject({ i: 'b' }), t: [0, 300_000, 600_000], v: [0, 20, 40] },
      ],
    });
  });

  it('refuses bad range parameters and matrix range queries', async () => {
    const e = new Engine();
    await expect(e.rangeQuery(store, 'm', 10, 0, 1)).rejects.toThrow('end timestamp must not be before start time');
    await expect(e.rangeQuery(store, 'm', 0, 10, 0)).rejects.toThrow('zero or negative query resolution step');
    await expect(e.rangeQuery(store, 'm[5m]', 0, 10, 1)).rejects.toMatchObject({ errorType: 'bad_data' });
    await expect(e.instantQuery(store, 'm +', 0)).rejects.toBeInstanceOf(ParseError);
  });

  it('enforces maxSamples with an execution error', async () => {
    const err = await new Engine({ maxSamples: 50 }).instantQuery(store, 'm[1h]', 3_600_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueryError);
    expect(err).toMatchObject({ errorType: 'execution', message: 'query processing would load too many samples into memory in query execution' });
  });

  it('counts a cached select answer toward maxSamples every time it is used', async () => {
    const { dir, cleanup } = tempDir();
    const db = openTsdb({ dataDir: dir, maintenanceIntervalMs: 0 });
    try {
      const app = db.appender();
      for (let i = 0; i <= 60; i++) app.append(labelsFromObject({ __name__: 'm', i: 'a' }), i * 60_000, i);
      app.commit();
      // The store's select of m[1h] at 1h holds 61 samples; both selectors get the one cached answer.
      const q = 'count_over_time(m[1h]) + count_over_time(m[1h])';
      const ok = new Engine({ maxSamples: 122 });
      for (let k = 0; k < 2; k++) expect((await ok.instantQuery(db, q, 3_600_000)).samples).toBe(122);
      const tight = new Engine({ maxSamples: 121 });
      for (let k = 0; k < 2; k++) {
        await expect(tight.instantQuery(db, q, 3_600_000)).rejects.toMatchObject({ errorType: 'execution' });
        await expect(tight.instantQuery(db, 'count_over_time(m[1h])', 3_600_000)).resolves.toMatchObject({ samples: 61 });
      }
      await expect(new Engine({ maxSamples: 60 }).instantQuery(db, 'm[1h]', 3_600_000)).rejects.toMatchObject({ errorType: 'execution' });
    } finally {
      db.close();
      cleanup();
    }
  });

  it('times out between steps with a timeout error', async () => {
    let now = 0;
    const e = new Engine({ timeoutMs: 1000, now: () => (now += 400) });
    await expect(e.rangeQuery(store, 'm', 0, 3_600_000, 60_000)).rejects.toMatchObject({ errorType: 'timeout', message: 'query timed out in expression evaluation' });
  });

  it('a per-query timeout can only lower the engine limit', async () => {
    let now = 0;
    const e = new Engine({ timeoutMs: 1_000_000, now: () => (now += 400) });
    await expect(e.rangeQuery(store, 'm', 0, 3_600_000, 60_000, { timeoutMs: 1000 })).rejects.toMatchObject({ errorType: 'timeout' });
  });

  it('selects each selector once, over the times it needs, with hints', async () => {
    const calls: Array<{ mint: number; maxt: number; hints: unknown }> = [];
    const spy = {
      querier: (mint: number, maxt: number) => {
        const q = store.querier(mint, maxt);
        return { ...q, select: (ms: Parameters<typeof q.select>[0], hints?: Parameters<typeof q.select>[1]) => (calls.push({ mint, maxt, hints }), q.select(ms, hints)) };
      },
    };
    await new Engine().rangeQuery(spy, 'max_over_time(m[10m] offset 1m) + m', 3_600_000, 7_200_000, 60_000);
    expect(calls).toEqual([
      { mint: 3_600_000 - 660_000, maxt: 7_200_000 - 60_000, hints: { start: 2_940_000, end: 7_140_000, step: 60_000, range: 600_000, func: 'max_over_time' } },
      { mint: 3_600_000 - 300_000, maxt: 7_200_000, hints: { start: 3_300_000, end: 7_200_000, step: 60_000, range: undefined, func: undefined } },
    ]);
  });

  it('runs at most maxConcurrent queries at once; the rest wait in line', async () => {
    const e = new Engine({ maxConcurrent: 1 });
    const done: string[] = [];
    const long = e.rangeQuery(store, 'm', 0, 3_600_000, 1000).then(() => done.push('long'));
    const short = e.instantQuery(store, 'm', 0).then(() => done.push('short'));
    await Promise.all([long, short]);
    expect(done).toEqual(['long', 'short']);
  });

  it('counts queries by kind and outcome on the registry it is given', async () => {
    const registry = new Registry();
    const e = new Engine({ registry });
    await e.instantQuery(store, 'm', 0);
    await e.instantQuery(store, 'm +', 0).catch(() => undefined);
    await e.rangeQuery(store, 'm + on(foo) m', 0, 60_000, 60_000).catch(() => undefined);
    const text = await registry.metrics();
    expect(text).toContain('kubepulse_promql_queries_total{kind="instant",outcome="ok"} 1');
    expect(text).toContain('kubepulse_promql_queries_total{kind="instant",outcome="bad_data"} 1');
    expect(text).toContain('kubepulse_promql_queries_total{kind="range",outcome="execution"} 1');
    expect(text).toContain('kubepulse_promql_queries_running 0');
  });

  it('validates its options', () => {
    expect(() => new Engine({ lookbackDeltaMs: 0 })).toThrow('lookbackDeltaMs');
    expect(() => new Engine({ compat: 'v4' as 'v2' })).toThrow('compat');
  });
});

describe('engineQueryFunc', () => {
  const store = new MemoryStorage();
  store.add(labelsFromObject({ __name__: 'up', job: 'x' }), 0, 1);
  const q = engineQueryFunc(new Engine(), store);

  it('returns instant vectors with the evaluation time', async () => {
    expect(await q('up == 1', 60_000)).toEqual([{ labels: labelsFromObject({ __name__: 'up', job: 'x' }), t: 60_000, v: 1 }]);
  });

  it('turns scalars into a one-sample vector without labels', async () => {
    expect(await q('1 + 1', 5)).toEqual([{ labels: [], t: 5, v: 2 }]);
  });

  it('refuses strings and range vectors', async () => {
    await expect(q('"x"', 0)).rejects.toThrow('rule result is not a vector or scalar');
    await expect(q('up[5m]', 0)).rejects.toThrow('rule result is not a vector or scalar');
  });
});
