/**
 * A fake kubelet for tests and benchmarks: serves `/stats/summary` (and `/pods`) over
 * HTTPS with a certificate made by `openssl` at start, or over plain HTTP, checks the
 * bearer token as the kubelet's webhook authn would, and can misbehave on demand
 * (timeout, 401, 403, 500, malformed JSON).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestCerts } from './certs.js';

export type FakeKubeletMode = 'ok' | 'timeout' | 'unauthorized' | 'forbidden' | 'malformed' | 'not_a_summary' | 'server_error';

export interface FakeKubeletOptions {
  /** Serve HTTPS with a generated CA and serving certificate (SANs 127.0.0.1, localhost). Default true. */
  tls?: boolean;
  /** Token the server accepts; also written to `tokenFile`. Default a random string. */
  token?: string;
  /** Body of `/stats/summary` (raw JSON text, served byte for byte). */
  summary: string;
  /** Body of `/pods`, if any. */
  pods?: string;
  /** More paths to serve (e.g. `/metrics/cadvisor` text), answered 200 `text/plain`. */
  extra?: Readonly<Record<string, string>>;
  mode?: FakeKubeletMode;
  /** subjectAltName of the serving certificate. Default `IP:127.0.0.1,DNS:localhost`. */
  san?: string;
}

export interface FakeKubelet {
  /** `https://127.0.0.1:<port>` or `http://…`. */
  readonly url: string;
  readonly port: number;
  /** PEM of the CA that signed the serving certificate ('' without TLS). */
  readonly caFile: string;
  /** PEM of an unrelated CA: verification against it must fail. */
  readonly otherCaFile: string;
  /** File holding the accepted token. */
  readonly tokenFile: string;
  readonly token: string;
  /** Requests received, by path. */
  readonly requests: Map<string, number>;
  setMode(mode: FakeKubeletMode): void;
  setSummary(body: string): void;
  close(): Promise<void>;
}

export async function startFakeKubelet(opts: FakeKubeletOptions): Promise<FakeKubelet> {
  const dir = mkdtempSync(join(tmpdir(), 'fake-kubelet-'));
  const tls = opts.tls ?? true;
  const token = opts.token ?? `tok-${Math.random().toString(36).slice(2)}`;
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`);
  let mode: FakeKubeletMode = opts.mode ?? 'ok';
  let summary = opts.summary;
  const requests = new Map<string, number>();
  const hanging = new Set<ServerResponse>();

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    requests.set(path, (requests.get(path) ?? 0) + 1);
    if (mode === 'timeout') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}` || mode === 'unauthorized') {
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('Unauthorized');
      return;
    }
    if (mode === 'forbidden') {
      // The kubelet's own wording for a failed SubjectAccessReview.
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('Forbidden (user=system:serviceaccount:kubepulse:agent, verb=get, resource=nodes, subresource=(stats))');
      return;
    }
    if (mode === 'server_error') {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end('Internal Server Error: failed to get stats');
      return;
    }
    if (path === '/stats/summary') {
      const body = mode === 'malformed' ? summary.slice(0, Math.floor(summary.length / 2)) : mode === 'not_a_summary' ? '[1,2,3]' : summary;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
      return;
    }
    if (path === '/pods' && opts.pods !== undefined) {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(opts.pods);
      return;
    }
    const extra = opts.extra?.[path];
    if (extra !== undefined) {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(extra);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found');
  };

  let server: Server;
  let caFile = '';
  let otherCaFile = '';
  if (tls) {
    const certs = makeTestCerts(dir, opts.san ?? 'IP:127.0.0.1,DNS:localhost');
    caFile = certs.caFile;
    otherCaFile = certs.otherCaFile;
    server = createHttpsServer({ key: readFileSync(certs.keyFile), cert: readFileSync(certs.certFile) }, handler);
  } else {
    server = createHttpServer(handler);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    caFile,
    otherCaFile,
    tokenFile,
    token,
    requests,
    setMode(m) {
      mode = m;
    },
    setSummary(body) {
      summary = body;
    },
    async close() {
      for (const r of hanging) r.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
