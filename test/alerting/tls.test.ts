/**
 * Webhook TLS options against a real HTTPS receiver with a certificate made by openssl:
 * trusted through `ca_file`, refused without it, accepted with `insecure_skip_verify`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawHttpConfig } from '../../collector/notifier/config.js';
import { Notifier } from '../../collector/notifier/notifier.js';

const dir = mkdtempSync(join(tmpdir(), 'kp-tls-'));
let server: Server;
let url = '';
const got: string[] = [];

beforeAll(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function deliver(http_config: RawHttpConfig): Promise<{ delivered: boolean; pending: number }> {
  const T0 = Date.UTC(2026, 0, 1);
  const n = new Notifier({ config: { route: { receiver: 'r', group_wait: '0s' }, receivers: [{ name: 'r', webhook_configs: [{ url, http_config }] }] }, db: ':memory:', now: () => T0 });
  const before = got.length;
  n.send([{ labels: { alertname: 'A' }, annotations: {}, startsAt: T0, endsAt: T0 + 60_000, generatorURL: '' }]);
  await n.tick(T0);
  const pending = n.store.length();
  await n.close();
  return { delivered: got.length > before, pending };
}

describe('webhook TLS', () => {
  it('trusts the receiver through ca_file', async () => {
    expect(await deliver({ tls_config: { ca_file: join(dir, 'cert.pem') } })).toEqual({ delivered: true, pending: 0 });
  });
  it('refuses an unknown certificate and keeps the notification for retry', async () => {
    expect(await deliver({})).toEqual({ delivered: false, pending: 1 });
  });
  it('accepts any certificate with insecure_skip_verify', async () => {
    expect(await deliver({ tls_config: { insecure_skip_verify: true } })).toEqual({ delivered: true, pending: 0 });
  });
});
