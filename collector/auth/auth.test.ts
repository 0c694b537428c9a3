import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import Fastify, { type FastifyInstance } from 'fastify';
import { encodeWriteRequestBody, labelsFromObject } from '../../shared/index.js';
import { MemoryStorage } from '../storage/memory.js';
import { buildServer } from '../web/server.js';
import { healthPlugin } from '../web/health-plugin.js';
import { writePlugin } from '../ingest/write-plugin.js';
import { FakeApiServer } from '../../test/fakes/fake-apiserver.js';
import { Shipper } from '../../agent/shipper/shipper.js';
import { authPlugin } from './auth-plugin.js';
import { StaticTokenAuthenticator, parseStaticTokens, sha256 } from './static-tokens.js';
import { TokenReviewAuthenticator } from './token-review.js';
import { checkListenSecurity } from './listen-check.js';
import { httpsServerOptions, startTlsReloader } from './tls.js';
import type { Authenticator } from './identity.js';

const PUSH = 'push-token-0123456789abcdef';
const READ = 'read-token-0123456789abcdef';
const HEADERS = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' };
const BODY = encodeWriteRequestBody({ timeseries: [{ labels: labelsFromObject({ __name__: 'up', job: 'a' }), samples: [{ t: 1000, v: 1 }] }] });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kp-auth-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function server(authenticators: Authenticator[], openMetrics = false): Promise<{ app: FastifyInstance; store: MemoryStorage }> {
  const store = new MemoryStorage();
  const app = await buildServer({
    plugins: [
      { plugin: authPlugin, opts: { authenticators, openMetrics } },
      { plugin: healthPlugin, opts: { readiness: { ready: () => true } } },
      { plugin: writePlugin, opts: { appendable: store, maxBodyBytes: 1 << 20, maxDecompressedBytes: 1 << 22 } },
      {
        plugin: async (a: FastifyInstance) => {
          a.get('/metrics', async () => 'm 1\n');
          a.get('/api/v1/labels', async (req) => ({ status: 'success', data: [req.kubepulseIdentity?.name] }));
        },
      },
    ],
  });
  return { app, store };
}

describe('static tokens', () => {
  let app: FastifyInstance;
  let store: MemoryStorage;
  let file: string;
  beforeEach(async () => {
    file = join(dir, 'tokens.yaml');
    writeFileSync(file, `tokens:\n  - token: ${PUSH}\n    identity: agent-a\n    roles: [push]\n  - token_sha256: ${sha256(READ)}\n    identity: grafana\n    roles: [read]\n`);
    ({ app, store } = await server([new StaticTokenAuthenticator({ file })]));
  });
  afterEach(() => app.close());

  const write = (auth?: string) => app.inject({ method: 'POST', url: '/api/v1/write', headers: { ...HEADERS, ...(auth ? { authorization: auth } : {}) }, payload: BODY });

  it.each([
    { name: 'no header', auth: undefined },
    { name: 'unknown token', auth: 'Bearer not-a-token-at-all-xxxxxxxx' },
    { name: 'not bearer', auth: `Basic ${PUSH}` },
    { name: 'empty bearer', auth: 'Bearer ' },
  ])('401 for $name, with a body that reveals nothing', async ({ auth }) => {
    const r = await write(auth);
    expect(r.statusCode).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="kubepulse"');
    expect(r.json()).toEqual({ status: 'error', errorType: 'unauthorized', error: 'authentication required' });
    expect([...store.latestSamples()]).toHaveLength(0);
  });

  it('403 for a reader pushing; 204 for the push identity', async () => {
    const denied = await write(`Bearer ${READ}`);
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toEqual({ status: 'error', errorType: 'forbidden', error: 'forbidden' });
    expect([...store.latestSamples()]).toHaveLength(0);
    expect((await write(`Bearer ${PUSH}`)).statusCode).toBe(204);
    expect([...store.latestSamples()]).toHaveLength(1);
  });

  it('read routes need the read role and see the identity', async () => {
    expect((await app.inject({ url: '/api/v1/labels' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/api/v1/labels', headers: { authorization: `Bearer ${PUSH}` } })).statusCode).toBe(403);
    const ok = await app.inject({ url: '/api/v1/labels?x=1', headers: { authorization: `Bearer ${READ}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().data).toEqual(['grafana']);
  });

  it('health stays open; /metrics only when configured', async () => {
    expect((await app.inject({ url: '/-/healthy' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/-/ready' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/metrics' })).statusCode).toBe(401);
    const open = await server([new StaticTokenAuthenticator({ file })], true);
    expect((await open.app.inject({ url: '/metrics' })).statusCode).toBe(200);
    await open.app.close();
  });

  it('picks up a changed token file and keeps the old tokens when the new one is broken', async () => {
    const auth = new StaticTokenAuthenticator({ file });
    expect(await auth.authenticate(PUSH)).toBeDefined();
    writeFileSync(file, 'tokens:\n  - token: short\n    identity: x\n    roles: [push]\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    await new Promise((r) => setTimeout(r, 1100));
    expect(await auth.authenticate(PUSH)).toBeDefined();
    writeFileSync(file, `tokens:\n  - token: ${READ}\n    identity: grafana\n    roles: [read]\n`);
    utimesSync(file, new Date(), new Date(Date.now() + 10_000));
    await new Promise((r) => setTimeout(r, 1100));
    expect(await auth.authenticate(PUSH)).toBeUndefined();
    expect((await auth.authenticate(READ))?.name).toBe('grafana');
  });

  it('refuses a bad token file, naming each problem', () => {
    expect(() => parseStaticTokens('tokens:\n  - token: short\n    identity: a\n    roles: [push]\n  - token: 0123456789abcdefX\n    roles: [write]\n', 't.yaml')).toThrow(
      /t\.yaml: tokens\[0\]\.token: expected at least 16 characters; t\.yaml: tokens\[1\]\.identity: expected a non-empty string/,
    );
    expect(() => parseStaticTokens('nope: 1', 't.yaml')).toThrow(/top-level "tokens:" list/);
  });
});

describe('Kubernetes TokenReview', () => {
  let api: FakeApiServer;
  let ownToken: string;
  beforeAll(async () => {
    ownToken = join(dir, 'own-token');
    writeFileSync(ownToken, 'collector-sa-token\n');
    api = await FakeApiServer.start({
      requireAuth: true,
      tokens: {
        'collector-sa-token': { username: 'system:serviceaccount:kubepulse:kubepulse-collector' },
        'agent-token': { username: 'system:serviceaccount:kubepulse:kubepulse-agent', groups: ['system:serviceaccounts'] },
        'other-token': { username: 'system:serviceaccount:default:default', groups: ['system:serviceaccounts'] },
        'grafana-token': { username: 'grafana', groups: ['viewers'] },
      },
    });
  });
  afterAll(() => api.close());

  const reviewer = (url = api.url) =>
    new TokenReviewAuthenticator({ apiUrl: url, tokenFile: ownToken, pushIdentities: ['system:serviceaccount:kubepulse:kubepulse-agent'], readIdentities: ['viewers'] });

  it('accepts pushes from the agent service account only, and caches answers', async () => {
    const tr = reviewer();
    const { app, store } = await server([tr]);
    try {
      const push = (tok: string) => app.inject({ method: 'POST', url: '/api/v1/write', headers: { ...HEADERS, authorization: `Bearer ${tok}` }, payload: BODY });
      expect((await push('agent-token')).statusCode).toBe(204);
      expect((await push('agent-token')).statusCode).toBe(204);
      expect(tr.reviews).toBe(1);
      expect((await push('other-token')).statusCode).toBe(403);
      expect((await push('unknown-token')).statusCode).toBe(401);
      expect((await push('unknown-token')).statusCode).toBe(401);
      expect(tr.reviews).toBe(3);
      expect((await app.inject({ url: '/api/v1/labels', headers: { authorization: 'Bearer grafana-token' } })).statusCode).toBe(200);
      expect((await app.inject({ url: '/api/v1/labels', headers: { authorization: 'Bearer other-token' } })).statusCode).toBe(403);
      expect([...store.latestSamples()]).toHaveLength(1);
    } finally {
      await app.close();
      tr.close();
    }
  });

  it('answers 503 with Retry-After when the API server cannot be asked', async () => {
    const tr = reviewer('http://127.0.0.1:1');
    const { app } = await server([tr]);
    try {
      const r = await app.inject({ method: 'POST', url: '/api/v1/write', headers: { ...HEADERS, authorization: 'Bearer agent-token' }, payload: BODY });
      expect(r.statusCode).toBe(503);
      expect(r.headers['retry-after']).toBe('5');
      expect(r.body).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
    } finally {
      await app.close();
      tr.close();
    }
  });
});

describe('checkListenSecurity', () => {
  it.each([
    { host: '127.0.0.1', auth: false, ok: true },
    { host: '127.0.0.2', auth: false, ok: true },
    { host: '::1', auth: false, ok: true },
    { host: '[::1]', auth: false, ok: true },
    { host: 'localhost', auth: false, ok: true },
    { host: '0.0.0.0', auth: false, ok: false },
    { host: '::', auth: false, ok: false },
    { host: '', auth: false, ok: false },
    { host: '10.0.0.5', auth: false, ok: false },
    { host: 'collector.example', auth: false, ok: false },
    { host: '0.0.0.0', auth: true, ok: true },
  ])('$host with auth=$auth → $ok', ({ host, auth, ok }) => {
    const msg = checkListenSecurity(host, auth);
    if (ok) expect(msg).toBeUndefined();
    else expect(msg).toMatch(/refusing to listen on .*no authentication is configured/);
  });
});

describe('TLS', () => {
  const mkcert = (name: string, cn: string, caKey?: string, caCert?: string) => {
    const key = join(dir, `${name}.key`);
    const cert = join(dir, `${name}.crt`);
    if (!caKey) {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`], { stdio: 'ignore' });
    } else {
      const csr = join(dir, `${name}.csr`);
      const ext = join(dir, `${name}.ext`);
      writeFileSync(ext, 'subjectAltName=IP:127.0.0.1\n');
      execFileSync('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`], { stdio: 'ignore' });
      execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', caCert!, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext], { stdio: 'ignore' });
    }
    return { key, cert };
  };

  it('serves the certificate, the agent verifies it with its CA file, and a rotation is picked up', async () => {
    const ca = mkcert('ca', 'kubepulse test CA');
    const first = mkcert('srv', 'collector-1', ca.key, ca.cert);
    const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
    writeFileSync(files.certFile, execFileSync('cat', [first.cert]));
    writeFileSync(files.keyFile, execFileSync('cat', [first.key]));
    const store = new MemoryStorage();
    const app = Fastify({ https: httpsServerOptions(files) });
    await app.register(writePlugin, { appendable: store, maxBodyBytes: 1 << 20, maxDecompressedBytes: 1 << 22 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const reloader = startTlsReloader({ ...files, server: app.server as unknown as { setSecureContext(o: object): void }, intervalMs: 60_000 });
    const peerCN = () =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
          resolve(String(s.getPeerCertificate().subject.CN));
          s.end();
        });
        s.on('error', reject);
      });
    const series = [{ labels: labelsFromObject({ __name__: 'up' }), samples: [{ t: 5, v: 1 }] }];
    const common = { url: `https://127.0.0.1:${port}`, maxSeriesPerRequest: 100, timeoutMs: 5000, minBackoffMs: 10, maxBackoffMs: 100 };
    const trusting = new Shipper({ ...common, caFile: ca.cert });
    const untrusting = new Shipper(common);
    try {
      await trusting.push(series);
      expect([...store.latestSamples()]).toHaveLength(1);
      await expect(untrusting.push(series)).rejects.toThrow(/self.signed|unable to verify|certificate/i);
      expect(await peerCN()).toBe('collector-1');
      const second = mkcert('srv2', 'collector-2', ca.key, ca.cert);
      writeFileSync(files.certFile, execFileSync('cat', [second.cert]));
      writeFileSync(files.keyFile, execFileSync('cat', [second.key]));
      const later = new Date(Date.now() + 5000);
      utimesSync(files.certFile, later, later);
      utimesSync(files.keyFile, later, later);
      expect(reloader.check()).toBe(true);
      expect(await peerCN()).toBe('collector-2');
      await trusting.push(series);
    } finally {
      reloader.stop();
      await trusting.stop(0);
      await untrusting.stop(0);
      await app.close();
    }
  });

  it('refuses a key that does not match the certificate, naming the files', () => {
    const a = mkcert('a', 'a');
    const b = mkcert('b', 'b');
    expect(() => httpsServerOptions({ certFile: a.cert, keyFile: b.key })).toThrow(new RegExp(`TLS certificate ${a.cert} and key ${b.key}`));
    expect(() => httpsServerOptions({ certFile: join(dir, 'missing.crt'), keyFile: b.key })).toThrow(/reading the TLS certificate .*missing\.crt/);
  });
});
