/**
 * A webhook receiver for tests: records every request, and can answer 500, hang, or be
 * closed and reopened on the same port to play a receiver that is down.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as netServer } from 'node:net';

export interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly json: unknown;
}

export type Mode = 'ok' | 'fail' | 'hang' | 'tooMany';

export class TestReceiver {
  readonly received: Received[] = [];
  mode: Mode = 'ok';
  private server: Server | undefined;
  private hanging: Array<() => void> = [];
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.mode === 'hang') {
          this.hanging.push(() => res.destroy());
          return;
        }
        if (this.mode === 'fail') return void res.writeHead(500).end('boom');
        if (this.mode === 'tooMany') return void res.writeHead(429).end('slow down');
        const body = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        this.received.push({ path: req.url ?? '', headers: req.headers, body, json });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Waits until `n` requests arrived or `timeoutMs` passed (polling, bounded). */
  async waitFor(n: number, timeoutMs = 10_000): Promise<Received[]> {
    const end = Date.now() + timeoutMs;
    while (this.received.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return this.received;
  }

  async stop(): Promise<void> {
    for (const h of this.hanging) h();
    this.hanging = [];
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const s = netServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
