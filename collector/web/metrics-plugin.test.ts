import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { Counter, Registry } from 'prom-client';
import { formatFamily, formatSampleLine, labelsFromObject } from '../../shared/index.js';
import { openTsdb, type Tsdb } from '../tsdb/index.js';
import { buildServer } from './server.js';
import { acceptsGzip, metricsPlugin } from './metrics-plugin.js';
import { FALLBACK_HELP } from './exposition-writer.js';

describe('GET /metrics', () => {
  let store: Tsdb;
  let registry: Registry;
  let app: FastifyInstance;
  let plain: FastifyInstance;

  beforeAll(async () => {
    store = openTsdb({ dataDir: ':memory:', maintenanceIntervalMs: 0 });
    registry = new Registry();
    new Counter({ name: 'kubepulse_test_scrapes_total', help: 'Own metric.', registers: [registry] }).inc(3);
    const a = store.appender();
    for (let i = 0; i < 3000; i++) a.append(labelsFromObject({ __name__: `m_${i % 4}`, pod: `p-${i}`, note: i % 97 === 0 ? 'a "quoted"\nline' : 'x' }), 5000 + i, i / 4);
    // A stored copy of an own family must not appear twice.
    a.append(labelsFromObject({ __name__: 'kubepulse_test_scrapes_total' }), 5000, 1);
    a.commit();
    app = await buildServer({ plugins: [{ plugin: metricsPlugin, opts: { head: store, registry, renderer: { chunkChars: 4096 } } }] });
    plain = await buildServer({ plugins: [{ plugin: metricsPlugin, opts: { head: store, registry, gzipLevel: 0 } }] });
  });
  afterAll(async () => {
    await app?.close();
    await plain?.close();
    store?.close();
  });

  function expected(): string {
    let out = '';
    for (let f = 0; f < 4; f++) {
      out += formatFamily({ name: `m_${f}`, help: FALLBACK_HELP, type: 'untyped' }, []);
      for (let i = f; i < 3000; i += 4) out += formatSampleLine({ labels: labelsFromObject({ __name__: `m_${f}`, note: i % 97 === 0 ? 'a "quoted"\nline' : 'x', pod: `p-${i}` }), v: i / 4, t: 5000 + i }) + '\n';
    }
    return out;
  }

  it('serves stored series then its own metrics, uncompressed when gzip is not asked for', async () => {
    const r = await app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(r.headers.vary).toBe('Accept-Encoding');
    const own = await registry.metrics();
    expect(r.body).toBe(expected() + own);
    expect(r.body.match(/^kubepulse_test_scrapes_total /gm)).toEqual(['kubepulse_test_scrapes_total ']);
  });

  it('gzips the same bytes when the client accepts gzip, as Prometheus does', async () => {
    const r = await app.inject({ method: 'GET', url: '/metrics', headers: { 'accept-encoding': 'gzip' } });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(r.rawPayload).toString('utf8')).toBe(expected() + (await registry.metrics()));
    expect(r.rawPayload.length).toBeLessThan(expected().length / 4);
  });

  it('answers uncompressed when gzip is refused or disabled', async () => {
    const refused = await app.inject({ method: 'GET', url: '/metrics', headers: { 'accept-encoding': 'gzip;q=0, identity' } });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(refused.body.startsWith(expected())).toBe(true);
    const off = await plain.inject({ method: 'GET', url: '/metrics', headers: { 'accept-encoding': 'gzip' } });
    expect(off.headers['content-encoding']).toBeUndefined();
    expect(off.body.startsWith(expected())).toBe(true);
  });

  it('refuses a bad gzip level at registration', async () => {
    await expect(buildServer({ plugins: [{ plugin: metricsPlugin, opts: { head: store, registry, gzipLevel: 11 } }] })).rejects.toThrow(/gzipLevel must be an integer 0-9, got 11/);
  });
});

describe('acceptsGzip', () => {
  it.each([
    [undefined, false],
    ['', false],
    ['gzip', true],
    ['GZIP', true],
    ['deflate, gzip;q=0.5', true],
    ['gzip;q=0', false],
    ['gzip; q=0.000', false],
    ['x-gzip', true],
    ['*', true],
    ['*;q=0', false],
    ['gzip;q=0, *', false],
    ['identity', false],
    ['br, deflate', false],
  ])('%j → %s', (header, want) => {
    expect(acceptsGzip(header)).toBe(want);
  });
});
