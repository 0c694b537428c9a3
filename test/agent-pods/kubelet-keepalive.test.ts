/**
 * The kubelet client keeps its connection alive between ticks, and sends a request again
 * on a new connection when the kubelet dropped the kept one under it.
 */
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeletClient } from '../../agent/sources/kubelet/index.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A kubelet stand-in; `dropSecondOnSocket` kills a connection at its second request, unanswered. */
async function start(dropSecondOnSocket: boolean): Promise<{ url: string; connections: () => number; requests: () => number }> {
  let connections = 0;
  let requests = 0;
  const perSocket = new WeakMap<Socket, number>();
  server = createServer((req, res) => {
    requests++;
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (dropSecondOnSocket && n === 2) {
      req.socket.destroy();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ node: { nodeName: 'n' }, pods: [] }));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, connections: () => connections, requests: () => requests };
}

describe('KubeletClient connection reuse', () => {
  it('fetches tick after tick over one connection', async () => {
    const k = await start(false);
    const c = new KubeletClient({ url: k.url });
    for (let i = 0; i < 3; i++) expect((await c.summary()).node?.nodeName).toBe('n');
    expect(k.requests()).toBe(3);
    expect(k.connections()).toBe(1);
  });

  it('sends again on a new connection when the kept one was dropped', async () => {
    const k = await start(true);
    const c = new KubeletClient({ url: k.url });
    expect((await c.summary()).node?.nodeName).toBe('n');
    expect((await c.summary()).node?.nodeName).toBe('n');
    expect(k.requests()).toBe(3);
    expect(k.connections()).toBe(2);
  });

  it('reads bodies of any size into its one reused buffer, each whole and unmixed', async () => {
    const sizes = [300_000, 10, 200_000, 1_000_000, 5];
    let i = 0;
    server = createServer((_req, res) => {
      const n = sizes[i++ % sizes.length];
      res.setHeader('content-type', 'application/json');
      // Written in pieces, as a kubelet's TLS records arrive.
      const body = JSON.stringify({ node: { nodeName: `n${n}` }, pods: [], pad: 'y'.repeat(n) });
      for (let p = 0; p < body.length; p += 65_536) res.write(body.slice(p, p + 65_536));
      res.end();
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const c = new KubeletClient({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}` });
    for (const n of [...sizes, ...sizes]) {
      const s = (await c.summary()) as { node?: { nodeName?: string }; pad?: string };
      expect(s.node?.nodeName).toBe(`n${n}`);
      expect(s.pad).toBe('y'.repeat(n));
    }
    await expect(new KubeletClient({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, maxBodyBytes: 100_000 }).summary()).rejects.toThrow(/more than 100000 bytes/);
  });
});
