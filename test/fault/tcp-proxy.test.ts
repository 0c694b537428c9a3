/**
 * Agent → TCP proxy → collector, where the proxy delays, cuts connections mid-body,
 * resets them and swallows them: the shipper retries until everything is stored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Shipper } from '../../agent/shipper/shipper.js';
import { TcpProxy, type Fault } from '../fakes/tcp-proxy.js';
import { waitFor } from '../helpers/procs.js';
import { checkComplete, startCollector, syntheticBatch, type InProcessCollector } from './helpers.js';

const SERIES = 200;
const TICKS = 40;
const STEP = 10_000;

describe('faulty network between agent and collector', () => {
  let dir: string;
  let collector: InProcessCollector | undefined;
  let proxy: TcpProxy | undefined;
  let shipper: Shipper | undefined;
  afterEach(async () => {
    await shipper?.stop(0);
    await proxy?.close();
    await collector?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every sample through delays, mid-body drops, resets, black holes and lost answers', async () => {
    dir = mkdtempSync(join(tmpdir(), 'kp-proxy-'));
    collector = await startCollector(join(dir, 'db'));
    // A fixed rotation of faults. Kept-alive connections that pass or delay are cut too,
    // after some tens of requests, so each kind of fault comes round again.
    const rotation: Fault[] = [
      { kind: 'drop', afterBytes: 700 },
      { kind: 'delay', ms: 30, dropAfterBytes: 5_000 },
      { kind: 'reset', afterBytes: 300 },
      { kind: 'blackhole' },
      { kind: 'drop', afterBytes: 40 },
      { kind: 'pass', dropAfterBytes: 8_000 },
      { kind: 'reset', afterBytes: 3000 },
      { kind: 'lose-answer' },
    ];
    proxy = await TcpProxy.start({ target: { host: '127.0.0.1', port: collector.port }, plan: (n) => rotation[n % rotation.length] });
    let rejected = 0;
    shipper = new Shipper({
      url: proxy.url,
      maxSeriesPerRequest: 100,
      timeoutMs: 300, // the black hole answers never
      minBackoffMs: 5,
      maxBackoffMs: 40,
      spoolDir: join(dir, 'spool'),
      backfillSamplesPerSecond: 1_000_000,
      metrics: { sent() {}, failed() {}, dropped: (_r, n) => (rejected += n), queueLength() {}, pushDuration() {} },
    });
    shipper.start();
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < TICKS; i++) {
      shipper.enqueue(syntheticBatch(t0 + i * STEP, i, SERIES));
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor('everything delivered through the proxy', () => shipper!.pending === 0, 60_000, 20);
    expect(rejected).toBe(0);
    expect(checkComplete(collector.store, 'n1', SERIES, TICKS, t0, STEP)).toEqual([]);
    // Every kind of fault was met, more than once.
    for (const kind of ['drop', 'delay', 'reset', 'blackhole', 'pass', 'lose-answer'] as const) expect(proxy.faults.filter((k) => k === kind).length).toBeGreaterThan(1);
  });
});
