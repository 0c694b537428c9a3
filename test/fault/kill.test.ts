/**
 * SIGKILL, for real: child processes running the compiled agent shipper and collector
 * write path. An agent killed mid-outage resends its spool after a restart; a collector
 * killed repeatedly under load loses no sample it acknowledged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeWriteRequestBody, labelsFromObject } from '../../shared/index.js';
import { Shipper } from '../../agent/shipper/shipper.js';
import { openTsdb } from '../../collector/tsdb/index.js';
import { freePort, startProcess, waitFor, type Proc } from '../helpers/procs.js';
import { checkComplete, compileForChild, startCollector, syntheticBatch } from './helpers.js';

const SERIES = 100;
const STEP = 10_000;
const HEADERS = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' };

describe('SIGKILL', () => {
  let build: ReturnType<typeof compileForChild>;
  let dir: string;
  const procs: Proc[] = [];
  beforeAll(() => {
    build = compileForChild(['test/fault/child-collector.ts', 'test/fault/child-agent.ts']);
    dir = mkdtempSync(join(tmpdir(), 'kp-kill-'));
  }, 120_000);
  afterAll(async () => {
    for (const p of procs) await p.stop(1000);
    build?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const spawnNode = (entry: string, env: Record<string, string>) => {
    const p = startProcess(process.execPath, [build.js(entry)], { env: { ...process.env, ...env } });
    procs.push(p);
    return p;
  };

  it('an agent killed during an outage resends its spool after a restart', async () => {
    const port = await freePort();
    const spool = join(dir, 'agent-spool');
    const t0 = 1_700_000_000_000;
    const common = { KP_URL: `http://127.0.0.1:${port}`, KP_SPOOL: spool, KP_T0: String(t0), KP_SERIES: String(SERIES), KP_EVERY_MS: '5' };
    const first = spawnNode('test/fault/child-agent.ts', { ...common, KP_FROM: '0', KP_TO: '30' });
    await waitFor('30 ticks enqueued', () => first.output().includes('enqueued 29'), 20_000, 20);
    first.child.kill('SIGKILL');
    await first.exited;
    const collector = await startCollector(join(dir, 'agent-db'), port);
    try {
      const second = spawnNode('test/fault/child-agent.ts', { ...common, KP_FROM: '30', KP_TO: '40' });
      await waitFor('all 40 ticks stored', () => checkComplete(collector.store, 'n1', SERIES, 40, t0, STEP).length === 0, 30_000, 100);
      await waitFor('the spool empty', () => /pending 0\n/.test(second.output()), 10_000, 50);
      second.child.kill('SIGKILL');
      await second.exited;
    } finally {
      await collector.close();
    }
  }, 60_000);

  it('a collector killed repeatedly under load loses no acknowledged sample', async () => {
    const port = await freePort();
    const data = join(dir, 'collector-db');
    const env = { KP_PORT: String(port), KP_DATA_DIR: data };
    let collector = spawnNode('test/fault/child-collector.ts', env);
    await waitFor('the collector listening', () => collector.output().includes('listening'), 20_000, 20);

    // A probe that records exactly which requests got a 2xx.
    const acked: number[] = [];
    let probing = true;
    const probe = (async () => {
      for (let i = 0; probing && i < 100_000; i++) {
        const body = encodeWriteRequestBody({ timeseries: [{ labels: labelsFromObject({ __name__: 'kill_probe', i: String(i) }), samples: [{ t: 1000 + i, v: i }] }] });
        try {
          const r = await fetch(`http://127.0.0.1:${port}/api/v1/write`, { method: 'POST', headers: HEADERS, body, signal: AbortSignal.timeout(2000) });
          if (r.ok) acked.push(i);
        } catch {
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    })();
    // And a real agent shipper pushing load.
    const t0 = 1_700_000_000_000;
    const shipper = new Shipper({ url: `http://127.0.0.1:${port}`, maxSeriesPerRequest: 100, timeoutMs: 2000, minBackoffMs: 10, maxBackoffMs: 100, spoolDir: join(dir, 'load-spool'), backfillSamplesPerSecond: 1_000_000 });
    shipper.start();
    let ticks = 0;
    let feeding = true;
    const feed = (async () => {
      while (feeding && ticks < 10_000) {
        shipper.enqueue(syntheticBatch(t0 + ticks * STEP, ticks, SERIES));
        ticks++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      for (let k = 0; k < 3; k++) {
        await new Promise((r) => setTimeout(r, 300 + k * 97));
        collector.child.kill('SIGKILL');
        await collector.exited;
        collector = spawnNode('test/fault/child-collector.ts', env);
        await waitFor('the collector back', () => collector.output().includes('listening'), 20_000, 20);
      }
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      feeding = false;
      await feed;
      probing = false;
      await probe;
    }
    await waitFor('the shipper drained', () => shipper.pending === 0, 30_000, 50);
    await shipper.stop(0);
    collector.child.kill('SIGKILL');
    await collector.exited;

    const store = openTsdb({ dataDir: data });
    try {
      expect(acked.length).toBeGreaterThan(10);
      const q = store.querier(0, Number.MAX_SAFE_INTEGER);
      const have = new Set(q.select([{ type: '=', name: '__name__', value: 'kill_probe' }]).map((s) => Number(s.labels.find((l) => l.name === 'i')?.value)));
      const missing = acked.filter((i) => !have.has(i));
      expect(missing).toEqual([]);
      expect(checkComplete(store, 'n1', SERIES, ticks, t0, STEP)).toEqual([]);
    } finally {
      store.close();
    }
  }, 120_000);
});
