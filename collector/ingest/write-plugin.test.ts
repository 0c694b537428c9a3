import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import snappy from 'snappy';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { encodeWriteRequestBody, labelsFromObject, type WriteRequest } from '../../shared/index.js';
import { openTsdb, type Tsdb } from '../tsdb/index.js';
import { buildServer } from '../web/server.js';
import { writePlugin } from './write-plugin.js';
import { metricsPlugin } from '../web/metrics-plugin.js';

const HEADERS = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' };

function req(series: Array<[Record<string, string>, number, number]>): WriteRequest {
  return { timeseries: series.map(([l, t, v]) => ({ labels: labelsFromObject(l), samples: [{ t, v }] })) };
}

describe('POST /api/v1/write', () => {
  let dir: string;
  let store: Tsdb;
  let app: FastifyInstance;
  let registry: Registry;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kp-ingest-'));
    store = openTsdb({ dataDir: dir });
    registry = new Registry();
    app = await buildServer({
      plugins: [
        { plugin: writePlugin, opts: { appendable: store, maxBodyBytes: 64 * 1024, maxDecompressedBytes: 1024 * 1024, registry } },
        { plugin: metricsPlugin, opts: { head: store, registry } },
      ],
    });
  });
  afterEach(async () => {
    await app.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (payload: Buffer | Uint8Array, headers: Record<string, string> = HEADERS) =>
    app.inject({ method: 'POST', url: '/api/v1/write', headers, payload: Buffer.from(payload) });

  const stored = () => [...store.latestSamples()].map((s) => `${s.labels.map((l) => `${l.name}=${l.value}`).join(',')} ${s.t} ${s.v}`).sort();

  it('stores a valid request and answers 204', async () => {
    const r = await post(encodeWriteRequestBody(req([[{ __name__: 'up', job: 'a' }, 1000, 1], [{ __name__: 'temp', job: 'a' }, 1000, 21.5]])));
    expect(r.statusCode).toBe(204);
    expect(stored()).toEqual(['__name__=temp,job=a 1000 21.5', '__name__=up,job=a 1000 1']);
    const again = await post(encodeWriteRequestBody(req([[{ __name__: 'up', job: 'a' }, 1000, 1]])));
    expect(again.statusCode).toBe(204); // an identical retry is harmless
  });

  it('accepts labels a sender did not sort', async () => {
    const body = encodeWriteRequestBody({ timeseries: [{ labels: [{ name: 'job', value: 'a' }, { name: '__name__', value: 'up' }], samples: [{ t: 1, v: 1 }] }] });
    expect((await post(body)).statusCode).toBe(204);
    expect(stored()).toEqual(['__name__=up,job=a 1 1']);
  });

  describe('refusals leave the store unchanged', () => {
    beforeEach(async () => {
      expect((await post(encodeWriteRequestBody(req([[{ __name__: 'up', job: 'a' }, 1000, 1]])))).statusCode).toBe(204);
    });

    it.each([
      { name: 'not snappy', body: () => Buffer.from('hello world, not snappy'), headers: HEADERS, code: 400, msg: /snappy/ },
      { name: 'snappy but not a WriteRequest', body: () => snappy.compressSync(Buffer.from([0x0a, 0xff, 0xff, 0x7f])), headers: HEADERS, code: 400, msg: /protobuf/ },
      { name: 'invalid label name', body: () => encodeWriteRequestBody(req([[{ __name__: 'up', 'bad-name': 'x' }, 2000, 1]])), headers: HEADERS, code: 400, msg: /invalid label name "bad-name"/ },
      {
        name: 'duplicate label names',
        body: () => encodeWriteRequestBody({ timeseries: [{ labels: [{ name: '__name__', value: 'up' }, { name: 'a', value: '1' }, { name: 'a', value: '2' }], samples: [{ t: 2000, v: 1 }] }] }),
        headers: HEADERS,
        code: 400,
        msg: /duplicate label name "a"/,
      },
      { name: 'series without __name__', body: () => encodeWriteRequestBody(req([[{ job: 'x' }, 2000, 1]])), headers: HEADERS, code: 400, msg: /without __name__/ },
      { name: 'wrong content type', body: () => encodeWriteRequestBody(req([[{ __name__: 'x' }, 2000, 1]])), headers: { ...HEADERS, 'content-type': 'application/json' }, code: 415, msg: /unsupported content type "application\/json"/ },
      { name: 'wrong content encoding', body: () => encodeWriteRequestBody(req([[{ __name__: 'x' }, 2000, 1]])), headers: { ...HEADERS, 'content-encoding': 'gzip' }, code: 415, msg: /content encoding "gzip"/ },
      { name: 'body over the limit', body: () => Buffer.alloc(70 * 1024, 7), headers: HEADERS, code: 413, msg: /limit is 65536 bytes/ },
      { name: 'decompressed size over the limit', body: () => snappy.compressSync(Buffer.alloc(1100 * 1024)), headers: HEADERS, code: 400, msg: /exceeds the limit/ },
    ])('$name → $code', async ({ body, headers, code, msg }) => {
      const before = stored();
      const r = await post(body(), headers);
      expect(r.statusCode).toBe(code);
      expect(r.body).toMatch(msg);
      expect(stored()).toEqual(before);
    });

    it('is all-or-nothing: one bad series refuses the whole request', async () => {
      const body = encodeWriteRequestBody(req([[{ __name__: 'good', job: 'a' }, 2000, 1], [{ __name__: 'up', job: 'a' }, 1000, 99]]));
      const r = await post(body);
      expect(r.statusCode).toBe(400);
      expect(r.body).toMatch(/already has a different value/);
      expect(r.body).toMatch(/nothing from this request was stored/);
      expect(stored()).toEqual(['__name__=up,job=a 1000 1']);
    });
  });

  it('refuses native histograms with a clear message', async () => {
    // WriteRequest{timeseries: [{labels: [{__name__: "h"}], histograms: [{}]}]}, hand-encoded.
    const label = Buffer.from([0x0a, 0x08, ...Buffer.from('__name__'), 0x12, 0x01, ...Buffer.from('h')]);
    const series = Buffer.from([0x0a, label.length, ...label, 0x22, 0x00]);
    const wr = Buffer.from([0x0a, series.length, ...series]);
    const r = await post(snappy.compressSync(wr));
    expect(r.statusCode).toBe(400);
    expect(r.body).toMatch(/native histograms are not supported/);
    expect(stored()).toEqual([]);
  });

  it('serves stored series with their timestamps and its own metrics on /metrics', async () => {
    await post(encodeWriteRequestBody({
      timeseries: req([[{ __name__: 'node_load1', node: 'n1' }, 5000, 0.5]]).timeseries,
      metadata: [{ type: 2, metricFamilyName: 'node_load1', help: '1m load average.', unit: '' }],
    }));
    const r = await app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/plain; version=0.0.4');
    expect(r.body).toContain('# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1{node="n1"} 0.5 5000\n');
    expect(r.body).toMatch(/kubepulse_ingest_samples_total 1\n/);
    expect(r.body).toMatch(/kubepulse_ingest_requests_total\{code="204"\} 1\n/);
  });
});

describe('ingest limits', () => {
  let dir: string;
  let store: Tsdb;
  let app: FastifyInstance;
  let registry: Registry;
  let now = 1_000_000;

  const build = async (opts: Record<string, unknown>) => {
    app = await buildServer({
      plugins: [
        { plugin: writePlugin, opts: { appendable: store, maxBodyBytes: 1 << 20, maxDecompressedBytes: 1 << 22, registry, now: () => now, ...opts } },
        { plugin: metricsPlugin, opts: { head: store, registry } },
      ],
    });
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kp-ingest-lim-'));
    store = openTsdb({ dataDir: dir });
    registry = new Registry();
  });
  afterEach(async () => {
    await app?.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const post = (wr: WriteRequest, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/api/v1/write', headers: { ...HEADERS, ...headers }, payload: encodeWriteRequestBody(wr) });
  const many = (n: number, prefix = 's', t = 1000) => req(Array.from({ length: n }, (_, i) => [{ __name__: 'm', id: `${prefix}${i}` }, t, i] as [Record<string, string>, number, number]));

  it.each([
    { name: 'series per request', opts: { maxSeriesPerRequest: 3 }, wr: () => many(4), msg: /4 series, more than the limit of 3 \(ingest\.max_series_per_request\)/, reason: 'series_limit' },
    { name: 'labels per series', opts: { maxLabelsPerSeries: 3 }, wr: () => req([[{ __name__: 'm', a: '1', b: '2', c: '3' }, 1, 1]]), msg: /series 0: 4 labels, more than the limit of 3 \(ingest\.max_labels_per_series\)/, reason: 'label_limit' },
    { name: 'label name length', opts: { maxLabelNameLength: 8 }, wr: () => req([[{ __name__: 'm', abcdefghi: '1' }, 1, 1]]), msg: /label name "abcdefghi"… is 9 characters.*ingest\.max_label_name_length/, reason: 'label_length' },
    { name: 'label value length', opts: { maxLabelValueLength: 5 }, wr: () => req([[{ __name__: 'm', a: '123456' }, 1, 1]]), msg: /value of label "a" is 6 characters.*ingest\.max_label_value_length/, reason: 'label_length' },
    { name: 'new series in one request beyond a minute', opts: { maxNewSeriesPerMinute: 5 }, wr: () => many(6), msg: /creates 6 new series.*\(5, ingest\.max_new_series_per_minute\)/, reason: 'new_series_limit' },
  ])('400 over the $name limit, counted, nothing stored', async ({ opts, wr, msg, reason }) => {
    await build(opts);
    const r = await post(wr());
    expect(r.statusCode).toBe(400);
    expect(r.body).toMatch(msg);
    expect([...store.latestSamples()]).toHaveLength(0);
    expect(await registry.getSingleMetricAsString('kubepulse_ingest_samples_rejected_total')).toMatch(new RegExp(`reason="${reason}"\\} [1-9]`));
  });

  it('limits new series per minute per sender with 429 and Retry-After; known series always pass', async () => {
    await build({ maxNewSeriesPerMinute: 10, identify: (r: { headers: Record<string, unknown> }) => String(r.headers['x-node']) });
    expect((await post(many(8, 'a'), { 'x-node': 'n1' })).statusCode).toBe(204);
    const bomb = await post(many(8, 'b'), { 'x-node': 'n1' });
    expect(bomb.statusCode).toBe(429);
    expect(Number(bomb.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(bomb.body).toMatch(/too many new series from this sender/);
    // Other senders have their own budget; old series of n1 still flow.
    expect((await post(many(8, 'c'), { 'x-node': 'n2' })).statusCode).toBe(204);
    expect((await post(many(8, 'a', 2000), { 'x-node': 'n1' })).statusCode).toBe(204);
    now += 60_000;
    expect((await post(many(8, 'b'), { 'x-node': 'n1' })).statusCode).toBe(204);
    expect(await registry.getSingleMetricAsString('kubepulse_ingest_requests_throttled_total')).toMatch(/reason="new_series"\} 1/);
    expect([...store.latestSamples()]).toHaveLength(24);
  });

  it('answers 429 with Retry-After beyond the concurrent request limit, before reading the body', async () => {
    await build({ maxConcurrentRequests: 2 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const { request } = await import('node:http');
    const body = encodeWriteRequestBody(many(2));
    // Two requests that send headers and then stall mid-body hold both slots.
    const stalled = [0, 1].map(() => {
      const r = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/write', headers: { ...HEADERS, 'content-length': body.length } });
      r.on('error', () => {});
      r.write(body.subarray(0, 5));
      return r;
    });
    try {
      let r;
      for (let i = 0; i < 50; i++) {
        r = await fetch(`http://127.0.0.1:${port}/api/v1/write`, { method: 'POST', headers: HEADERS, body });
        if (r.status === 429) break;
        await new Promise((res) => setTimeout(res, 20));
      }
      expect(r!.status).toBe(429);
      expect(r!.headers.get('retry-after')).toBe('1');
      expect(await r!.text()).toMatch(/too many remote-write requests in flight \(limit 2, ingest\.max_concurrent_requests\)/);
    } finally {
      for (const s of stalled) s.destroy();
    }
    // Slots come back when the stalled exchanges end.
    let ok = 0;
    for (let i = 0; i < 50 && ok !== 204; i++) {
      ok = (await fetch(`http://127.0.0.1:${port}/api/v1/write`, { method: 'POST', headers: HEADERS, body })).status;
      if (ok !== 204) await new Promise((res) => setTimeout(res, 20));
    }
    expect(ok).toBe(204);
  });

  it('refuses a bad limit value at registration', async () => {
    await expect(build({ maxSeriesPerRequest: -1 })).rejects.toThrow(/ingest limit maxSeriesPerRequest: expected a non-negative integer, got -1/);
  });
});
