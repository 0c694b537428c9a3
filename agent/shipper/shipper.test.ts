import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeWriteRequestBody, float64Bits, labelsFromObject, type WriteRequest } from '../../shared/index.js';
import { Sampler, type Batch } from '../sampler.js';
import { parseRetryAfter, Shipper, type ShipperOptions } from './shipper.js';

function batch(t: number, n = 3): Batch {
  return {
    t,
    series: Array.from({ length: n }, (_, i) => ({ labels: labelsFromObject({ __name__: 'x', i: String(i) }), samples: [{ t, v: i }] })),
    families: new Map([['x', { type: 'gauge', help: 'x' }]]),
    samples: n,
  };
}

describe('Shipper', () => {
  let server: Server;
  let url: string;
  let dir: string;
  /** What the fake receiver answers next; 204 when empty. */
  let answers: Array<{ status: number; headers?: Record<string, string> }>;
  let received: Array<{ ts: number[]; auth?: string }>;
  let bodies: WriteRequest[];
  let shipper: Shipper | undefined;
  const events: string[] = [];

  beforeEach(async () => {
    answers = [];
    received = [];
    bodies = [];
    events.length = 0;
    dir = mkdtempSync(join(tmpdir(), 'kp-shipper-'));
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const a = answers.shift() ?? { status: 204 };
        if (a.status < 300) {
          const wr = decodeWriteRequestBody(Buffer.concat(chunks));
          bodies.push(wr);
          received.push({ ts: [...new Set(wr.timeseries.flatMap((s) => s.samples.map((x) => x.t)))], auth: req.headers.authorization });
        }
        res.writeHead(a.status, a.headers).end(a.status < 300 ? '' : `status ${a.status}`);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterEach(async () => {
    await shipper?.stop(0);
    shipper = undefined;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const make = (o: Partial<ShipperOptions> = {}) =>
    (shipper = new Shipper({
      url,
      maxSeriesPerRequest: 100,
      timeoutMs: 2000,
      minBackoffMs: 5,
      maxBackoffMs: 50,
      spoolDir: join(dir, 'spool'),
      metrics: { sent: (n) => events.push(`sent ${n}`), failed: (n) => events.push(`failed ${n}`), dropped: (r, n) => events.push(`dropped ${r} ${n}`), queueLength() {}, pushDuration() {} },
      ...o,
    }));
  const drained = async () => {
    for (let i = 0; i < 400 && shipper!.pending > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(shipper!.pending).toBe(0);
  };

  it('does not pile up abort listeners while it idles between batches', async () => {
    const s = make();
    s.start();
    for (let i = 0; i < 30; i++) {
      s.enqueue(batch(1000 + i));
      await drained();
    }
    const signal = (s as unknown as { abort: AbortController }).abort.signal;
    expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
    expect(received).toHaveLength(30);
  });

  it.each([{ spool: 'disk' }, { spool: 'memory' }])('ships a sampler batch from its packed form: the same series, split by maxSeriesPerRequest ($spool spool)', async ({ spool }) => {
    let pods = Array.from({ length: 250 }, (_, i) => `p${i}`);
    let now = 1_700_000_000_000;
    const sampler = new Sampler({
      sources: [{ name: 'src', targetLabels: { job: 'j' }, collect: (sink) => pods.forEach((p, i) => sink.add('up', { pod: p }, i)) }],
      baseLabels: { node: 'n' },
      intervalMs: 1000,
      now: () => now,
    });
    const s = make(spool === 'memory' ? { spoolDir: '' } : {});
    await sampler.tick();
    pods = pods.slice(10);
    now += 1000;
    const b = await sampler.tick();
    // Spooled before the first send: each request must survive the encoding of the next.
    s.enqueue(b);
    s.start();
    await drained();
    // 240 live + 10 stale markers in requests of at most 100 series.
    expect(bodies.map((w) => w.timeseries.length)).toEqual([100, 100, 50]);
    const sent = bodies.flatMap((w) => w.timeseries);
    const want = b.series;
    expect(sent.map((x) => x.labels)).toEqual(want.map((x) => x.labels));
    expect(sent.map((x) => x.samples.map((y) => [y.t, float64Bits(y.v)]))).toEqual(want.map((x) => x.samples.map((y) => [y.t, float64Bits(y.v)])));
    expect(bodies[0].metadata).toBeUndefined();
  });

  it('retries 5xx, 429, 401 and 403 and drops other 4xx, counting each', async () => {
    answers = [{ status: 503 }, { status: 429, headers: { 'retry-after': '0' } }, { status: 401 }, { status: 403 }, { status: 204 }, { status: 400 }];
    const s = make({ bearerToken: () => 'tok' });
    s.start();
    s.enqueue(batch(1000));
    s.enqueue(batch(2000));
    await drained();
    expect(events).toEqual(['failed 3', 'failed 3', 'failed 3', 'failed 3', 'sent 3', 'dropped rejected 3']);
    expect(received).toEqual([{ ts: [1000], auth: 'Bearer tok' }]);
  });

  it('sends live requests before an old backlog, and the backlog oldest first', async () => {
    let now = 10_000_000;
    const s = make({ now: () => now, liveAgeMs: 1000, backfillSamplesPerSecond: 1e9 });
    for (let i = 0; i < 5; i++) s.enqueue(batch(now - 60_000 + i * 10_000));
    now += 5000; // those five are now backlog
    s.enqueue(batch(now));
    s.start();
    await drained();
    expect(received.map((r) => r.ts[0])).toEqual([now, now - 60_000, now - 50_000, now - 40_000, now - 30_000, now - 20_000].map((t, i) => (i === 0 ? t : t - 5000)));
  });

  it('queues live requests behind a backlog older than liveFirstMaxAgeMs, so nothing falls out of the store window', async () => {
    let now = 10_000_000;
    const s = make({ now: () => now, liveAgeMs: 1000, liveFirstMaxAgeMs: 30_000, backfillSamplesPerSecond: 1e9 });
    s.enqueue(batch(now - 40_000));
    s.enqueue(batch(now - 35_000));
    now += 5000;
    s.enqueue(batch(now));
    s.start();
    await drained();
    expect(received.map((r) => r.ts[0])).toEqual([now - 45_000, now - 40_000, now]);
  });

  it('paces the backlog at backfillSamplesPerSecond', async () => {
    let now = 10_000_000;
    const s = make({ liveAgeMs: 0, backfillSamplesPerSecond: 300, now: () => now });
    for (let i = 0; i < 5; i++) s.enqueue(batch(i, 30)); // 30 samples = 100 ms each at 300/s
    now += 1;
    const started = performance.now();
    s.start();
    const tick = setInterval(() => (now = 10_000_001 + (performance.now() - started)), 5);
    try {
      await drained();
    } finally {
      clearInterval(tick);
    }
    expect(performance.now() - started).toBeGreaterThanOrEqual(350);
  });

  it('keeps its spool across a stop and sends it after a restart', async () => {
    answers = Array.from({ length: 1000 }, () => ({ status: 503 }));
    const s = make();
    s.start();
    s.enqueue(batch(1000));
    s.enqueue(batch(2000));
    await new Promise((r) => setTimeout(r, 50));
    await s.stop(0);
    answers = [];
    const again = make();
    expect(again.pending).toBeGreaterThan(0);
    again.start();
    await drained();
    // A request in flight at the stop may arrive twice; duplicates are harmless.
    expect([...new Set(received.flatMap((r) => r.ts))].sort()).toEqual([1000, 2000]);
  });

  it('parses Retry-After', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(61_000).toUTCString(), 1000)).toBe(60_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
