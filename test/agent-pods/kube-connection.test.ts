/**
 * How the agent reaches the API server without client-node: kubeconfig files (as
 * client-node and kubectl write them), the in-cluster service account (token re-read
 * per request, as projected tokens rotate), TLS verified against the cluster CA, and an
 * exec credential plugin (the one case that loads client-node). Each is driven through
 * the pod watcher against the fake API server with authentication required.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeApiServer, kubeconfigFor, type KubeObject } from '../fakes/fake-apiserver.js';
import { makeTestCerts, type TestCerts } from '../fakes/certs.js';
import { PodWatcher } from '../../agent/discovery/pod-watcher.js';
import { inClusterConnection, kubeconfigConnection, type KubeConnection } from '../../agent/discovery/kube-connection.js';

const NODE = 'node-a';
const USER = { username: 'system:serviceaccount:kubepulse:agent', uid: 'u1', groups: ['system:serviceaccounts'] };

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'kube-conn-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function pod(name: string, uid: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', uid }, spec: { nodeName: NODE, containers: [{ name: 'app', image: 'img:1' }] } };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts a watcher on `conn`, runs `body`, stops it. */
async function withWatcher(conn: KubeConnection, body: (w: PodWatcher, errors: string[]) => Promise<void>): Promise<void> {
  const errors: string[] = [];
  const w = new PodWatcher({ connection: conn, nodeName: NODE, minBackoffMs: 10, maxBackoffMs: 40, startTimeoutMs: 3000, metrics: { error: (r) => errors.push(r) } });
  try {
    await w.start();
    await body(w, errors);
  } finally {
    await w.stop();
  }
}

function kubeconfig(server: string, cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  const y = (o: Record<string, unknown>) =>
    Object.entries(o)
      .map(([k, v]) => `      ${k}: ${typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v)}`)
      .join('\n');
  return `apiVersion: v1
kind: Config
current-context: ctx
contexts:
  - name: ctx
    context:
      cluster: c1
      user: u1
clusters:
  - name: c1
    cluster:
      server: ${server}
${y(cluster)}
users:
  - name: u1
    user:
${y(user)}
`;
}

describe('API server connection over TLS with authentication', () => {
  let api: FakeApiServer;
  let certs: TestCerts;
  beforeAll(async () => {
    certs = makeTestCerts(tmp(), 'IP:127.0.0.1,DNS:localhost', 'kube-apiserver');
    api = await FakeApiServer.start({
      tls: { key: readFileSync(certs.keyFile), cert: readFileSync(certs.certFile) },
      requireAuth: true,
      tokens: { 'tok-1': USER, 'tok-2': USER, 'tok-exec': USER },
    });
    api.add(pod('p1', '00000000-0000-0000-0000-000000000001'));
  });
  afterAll(async () => {
    await api.close();
  });

  it('reads a kubeconfig written by client-node (token, skip-verify) and syncs', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'kc'), kubeconfigFor(api, { token: 'tok-1' }).exportConfig());
    const conn = await kubeconfigConnection(join(dir, 'kc'));
    expect(conn.server).toBe(api.url);
    expect(conn.insecureSkipVerify).toBe(true);
    await withWatcher(conn, async (w) => {
      expect(w.synced()).toBe(true);
      expect(w.size()).toBe(1);
    });
  });

  it('verifies the server against certificate-authority (a path relative to the kubeconfig) and reads tokenFile per request', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'ca.crt'), readFileSync(certs.caFile));
    writeFileSync(join(dir, 'token'), 'tok-1\n');
    writeFileSync(join(dir, 'kc'), kubeconfig(api.url, { 'certificate-authority': 'ca.crt' }, { tokenFile: 'token' }));
    const conn = await kubeconfigConnection(join(dir, 'kc'));
    expect(conn.insecureSkipVerify).toBe(false);
    await withWatcher(conn, async (w, errors) => {
      expect(w.synced()).toBe(true);
      // The token rotates to one the server refuses: the next relist is a 401, counted.
      await until(() => api.openWatches > 0);
      writeFileSync(join(dir, 'token'), 'revoked\n');
      api.dropWatches();
      api.compactBefore();
      await until(() => errors.includes('http_401'));
      writeFileSync(join(dir, 'token'), 'tok-2\n');
      api.add(pod('p2', '00000000-0000-0000-0000-000000000002'));
      await until(() => w.pod('00000000-0000-0000-0000-000000000002') !== undefined);
      api.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'p2' });
    });
  });

  it('refuses a server whose certificate the configured CA did not sign, and never syncs', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'kc'), kubeconfig(api.url, { 'certificate-authority-data': readFileSync(certs.otherCaFile).toString('base64') }, { token: 'tok-1' }));
    const conn = await kubeconfigConnection(join(dir, 'kc'));
    await withWatcher(conn, async (w, errors) => {
      await until(() => errors.length >= 2);
      expect(w.synced()).toBe(false);
      expect(errors.every((e) => e === 'list')).toBe(true);
    });
  });

  it('runs an exec credential plugin through client-node (loaded only for it)', async () => {
    const dir = tmp();
    const plugin = join(dir, 'cred.mjs');
    writeFileSync(plugin, `console.log(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { token: 'tok-exec' } }));\n`);
    const exec = { apiVersion: 'client.authentication.k8s.io/v1beta1', command: process.execPath, args: [plugin], interactiveMode: 'Never' };
    writeFileSync(join(dir, 'kc'), kubeconfig(api.url, { 'certificate-authority-data': readFileSync(certs.caFile).toString('base64') }, { exec }));
    const conn = await kubeconfigConnection(join(dir, 'kc'));
    await withWatcher(conn, async (w) => {
      // Only the plugin's token can have passed: the kubeconfig holds no other credential.
      expect(w.synced()).toBe(true);
    });
  });

  it('in cluster: KUBERNETES_SERVICE_HOST/PORT and the service account\'s token and CA', async () => {
    const sa = tmp();
    writeFileSync(join(sa, 'token'), 'tok-2');
    writeFileSync(join(sa, 'ca.crt'), readFileSync(certs.caFile));
    const port = new URL(api.url).port;
    const conn = inClusterConnection({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, sa);
    expect(conn.server).toBe(`https://127.0.0.1:${port}`);
    expect(conn.source).toBe('in-cluster');
    await withWatcher(conn, async (w) => {
      expect(w.synced()).toBe(true);
    });
    expect(inClusterConnection({ KUBERNETES_SERVICE_HOST: 'fd00::1' }, sa).server).toBe('https://[fd00::1]:443');
  });
});

describe('refused settings name the problem', () => {
  it('in cluster without the variable or the files', () => {
    expect(() => inClusterConnection({}, tmp())).toThrow(/KUBERNETES_SERVICE_HOST is not set/);
    const sa = tmp();
    expect(() => inClusterConnection({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, sa)).toThrow(new RegExp(`service-account CA \\(${sa}/ca.crt\\)`));
  });

  it.each([
    ['no current-context', 'apiVersion: v1\nkind: Config\n', /no current-context is set/],
    ['an unknown context', 'current-context: x\ncontexts: []\n', /current-context "x" is not among its contexts/],
    ['an undefined cluster', 'current-context: x\ncontexts: [{name: x, context: {cluster: gone, user: u}}]\n', /names cluster "gone", which it does not define/],
    ['a cluster without server', 'current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {}}]\n', /cluster "c" has no server/],
    ['a certificate without key', `current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: "https://h"}}]\nusers: [{name: u, user: {client-certificate-data: ${Buffer.from('x').toString('base64')}}}]\n`, /client certificate or a client key but not both/],
    ['a missing CA file', 'current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: "https://h", certificate-authority: nope.crt}}]\n', /cannot read the certificate authority of the kubeconfig .*nope\.crt/],
    ['YAML that does not parse', 'current-context: [\n', /cannot read it/],
  ])('a kubeconfig with %s', async (_what, text, re) => {
    const f = join(tmp(), 'kc');
    writeFileSync(f, text);
    await expect(kubeconfigConnection(f)).rejects.toThrow(re);
    await expect(kubeconfigConnection(f)).rejects.toThrow(f);
  });

  it('client certificate, key and basic auth are read from a kubeconfig', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'c.pem'), 'CERT');
    writeFileSync(join(dir, 'k.pem'), 'KEY');
    writeFileSync(join(dir, 'kc'), kubeconfig('https://h:6443/', { 'tls-server-name': 'kubernetes' }, { 'client-certificate': 'c.pem', 'client-key': 'k.pem' }));
    const c = await kubeconfigConnection(join(dir, 'kc'));
    expect([c.server, c.servername, c.cert?.toString(), c.key?.toString()]).toEqual(['https://h:6443', 'kubernetes', 'CERT', 'KEY']);
    expect(await c.authHeaders()).toEqual({});
    writeFileSync(join(dir, 'kc2'), kubeconfig('https://h', {}, { username: 'admin', password: 'pw' }));
    expect(await (await kubeconfigConnection(join(dir, 'kc2'))).authHeaders()).toEqual({ authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` });
  });
});

describe('a misbehaving API server', () => {
  it('relists after a watch line that is not JSON, and after an ERROR event other than 410, counting each', async () => {
    const { createServer } = await import('node:http');
    let lists = 0;
    let watches = 0;
    const pods = [pod('p1', '00000000-0000-0000-0000-00000000000a')];
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.searchParams.get('watch') !== '1') {
        lists++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: String(lists) }, items: pods }));
        return;
      }
      watches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      if (watches === 1) res.end('{"type":"ADDED","object":{"metadata":{"uid":"x"}}}\nthis is not json\n');
      else if (watches === 2) res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 500, reason: 'InternalError', message: 'etcd is away' } }) + '\n');
      // Later watches stay open until the test ends.
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const conn: KubeConnection = { server: `http://127.0.0.1:${port}`, insecureSkipVerify: false, source: 'test', authHeaders: async () => ({}) };
    try {
      await withWatcher(conn, async (w, errors) => {
        await until(() => watches >= 3);
        expect(w.pod('00000000-0000-0000-0000-00000000000a')?.name).toBe('p1');
        expect(errors).toEqual(['watch', 'http_500']);
        expect(lists).toBe(3);
      });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
