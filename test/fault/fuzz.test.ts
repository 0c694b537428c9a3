/**
 * Fuzzing `POST /api/v1/write` of a real collector (writePlugin + SQLite store): random
 * bytes, truncated snappy, valid snappy of broken protobuf, huge varints, byte flips of
 * a valid request, NaN and odd values, invalid UTF-8, 100k series in one request. Every
 * answer is a 2xx or 4xx, memory stays bounded, and what was stored before is intact.
 * The generator is seeded, so a failure replays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import snappy from 'snappy';
import type { FastifyInstance } from 'fastify';
import { encodeWriteRequest, encodeWriteRequestBody, labelsFromObject, type WriteRequest } from '../../shared/index.js';
import { openTsdb, type Tsdb } from '../../collector/tsdb/index.js';
import { buildServer } from '../../collector/web/server.js';
import { writePlugin } from '../../collector/ingest/write-plugin.js';

const HEADERS = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' };

function mulberry32(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function varint(n: bigint): number[] {
  const out: number[] = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) b |= 0x80;
    out.push(b);
  } while (n > 0n);
  return out;
}

/** A WriteRequest with one series whose single label has raw name/value bytes. */
function rawLabelRequest(name: number[], value: number[], t = 1000): Buffer {
  const label = [0x0a, ...varint(BigInt(name.length)), ...name, 0x12, ...varint(BigInt(value.length)), ...value];
  const metric = [0x0a, 0x08, ...Buffer.from('__name__'), 0x12, 0x01, 0x6d];
  const sample = [0x09, ...new Uint8Array(new Float64Array([1]).buffer), 0x10, ...varint(BigInt(t))];
  const series = [0x0a, ...varint(BigInt(metric.length)), ...metric, 0x0a, ...varint(BigInt(label.length)), ...label, 0x12, ...varint(BigInt(sample.length)), ...sample];
  return Buffer.from([0x0a, ...varint(BigInt(series.length)), ...series]);
}

describe('fuzzing the write endpoint', () => {
  let dir: string;
  let store: Tsdb;
  let app: FastifyInstance;
  const statuses = new Map<number, number>();
  const rand = mulberry32(20261122);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  const valid = (t: number, n = 20): WriteRequest => ({
    timeseries: Array.from({ length: n }, (_, i) => ({ labels: labelsFromObject({ __name__: 'fuzz_seen', i: String(i), job: 'fuzz' }), samples: [{ t, v: i * 1.5 }] })),
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kp-fuzz-'));
    store = openTsdb({ dataDir: dir });
    app = await buildServer({ plugins: [{ plugin: writePlugin, opts: { appendable: store, maxBodyBytes: 8 << 20, maxDecompressedBytes: 64 << 20 } }] });
    const r = await app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: encodeWriteRequestBody({ timeseries: [{ labels: labelsFromObject({ __name__: 'precious', job: 'before' }), samples: [{ t: 5000, v: 42 }] }] }) });
    expect(r.statusCode).toBe(204);
  });
  afterAll(async () => {
    await app.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (payload: Buffer, headers: Record<string, string> = HEADERS) => {
    const r = await app.inject({ method: 'POST', url: '/api/v1/write', headers, payload });
    statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
    expect(r.statusCode, `body ${payload.subarray(0, 32).toString('hex')}… answered ${r.statusCode}: ${r.body.slice(0, 200)}`).toBeGreaterThanOrEqual(200);
    expect(r.statusCode, r.body.slice(0, 200)).toBeLessThan(500);
    return r;
  };

  it('random bytes', async () => {
    for (let i = 0; i < 300; i++) await post(bytes(Math.floor(rand() * 4096)));
  });

  it('truncated snappy of a valid request', async () => {
    const body = encodeWriteRequestBody(valid(10_000, 200));
    for (let i = 0; i < 150; i++) await post(body.subarray(0, Math.floor(rand() * (body.length - 1))));
  });

  it('valid snappy of invalid protobuf, and byte flips of a valid request', async () => {
    for (let i = 0; i < 200; i++) await post(snappy.compressSync(bytes(1 + Math.floor(rand() * 2048))));
    const pb = Buffer.from(encodeWriteRequest(valid(20_000, 50)));
    for (let i = 0; i < 300; i++) {
      const m = Buffer.from(pb);
      for (let k = 0, n = 1 + Math.floor(rand() * 8); k < n; k++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
      await post(snappy.compressSync(m));
    }
  });

  it('huge varints: lengths, snappy headers, timestamps', async () => {
    const r1 = await post(snappy.compressSync(Buffer.from([0x0a, ...varint(2n ** 62n), 0x0a, 0x00])));
    expect(r1.statusCode).toBe(400);
    const r2 = await post(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x01]));
    expect(r2.statusCode).toBe(400);
    expect(r2.body).toMatch(/exceeds the limit/);
    await post(snappy.compressSync(Buffer.from([0x0a, ...varint(2n ** 64n - 1n)])));
    for (const t of [2n ** 63n - 1n, 2n ** 53n + 1n, 2n ** 64n - 1n /* -1 as int64 */]) await post(snappy.compressSync(rawLabelRequest([0x61], [0x62], Number(t))));
  });

  it('NaN, infinities and odd label values', async () => {
    const wr: WriteRequest = {
      timeseries: [
        { labels: labelsFromObject({ __name__: 'odd', l: 'NaN' }), samples: [{ t: 30_000, v: NaN }] },
        { labels: labelsFromObject({ __name__: 'odd', l: '+Inf' }), samples: [{ t: 30_000, v: Infinity }, { t: 31_000, v: -Infinity }] },
        { labels: labelsFromObject({ __name__: 'odd', l: '-0' }), samples: [{ t: -5, v: -0 }] },
        { labels: labelsFromObject({ __name__: 'odd', l: '\u0000\n"\\' }), samples: [{ t: 30_000, v: 1 }] },
      ],
    };
    expect((await post(encodeWriteRequestBody(wr))).statusCode).toBe(204);
    expect((await post(encodeWriteRequestBody({ timeseries: [{ labels: labelsFromObject({ __name__: 'NaN' }), samples: [{ t: 1, v: 1 }] }] }))).statusCode).toBe(204);
    expect((await post(encodeWriteRequestBody({ timeseries: [{ labels: [{ name: 'NaN', value: 'x' }], samples: [{ t: 1, v: 1 }] }] }))).statusCode).toBe(400);
  });

  it('invalid UTF-8 in label names and values', async () => {
    for (const [name, value] of [
      [[0xff, 0xfe], [0x61]],
      [[0x61], [0xc3, 0x28]],
      [[0x61], [0xed, 0xa0, 0x80]], // a UTF-16 surrogate in UTF-8
      [[0x61], [0xf4, 0x90, 0x80, 0x80]], // beyond U+10FFFF
    ]) {
      const r = await post(snappy.compressSync(rawLabelRequest(name, value)));
      expect(r.statusCode).toBe(400);
      expect(r.body).toMatch(/UTF-8|invalid label/);
    }
  });

  it('100k series in one request is refused with a clear error, memory bounded', async () => {
    const before = process.memoryUsage().rss;
    const big: WriteRequest = { timeseries: Array.from({ length: 100_000 }, (_, i) => ({ labels: labelsFromObject({ __name__: 'bomb', id: String(i), pod: `pod-${i % 3000}` }), samples: [{ t: 40_000, v: i }] })) };
    const r = await post(encodeWriteRequestBody(big));
    expect(r.statusCode).toBe(400);
    expect(r.body).toMatch(/100000 series, more than the limit of 20000 \(ingest\.max_series_per_request\)/);
    expect(process.memoryUsage().rss - before).toBeLessThan(512 * 1024 * 1024);
    expect(store.stats().series).toBeLessThan(1000);
  });

  it('stays up and keeps what it stored before', async () => {
    const q = store.querier(0, Number.MAX_SAFE_INTEGER);
    const precious = q.select([{ type: '=', name: '__name__', value: 'precious' }]);
    expect(precious).toHaveLength(1);
    expect([...precious[0].t]).toEqual([5000]);
    expect([...precious[0].v]).toEqual([42]);
    // And still takes new data.
    const r = await app.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: encodeWriteRequestBody(valid(50_000)) });
    expect(r.statusCode).toBe(204);
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
  });
});
