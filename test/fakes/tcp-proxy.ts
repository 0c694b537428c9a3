/**
 * A TCP proxy for fault tests: sits between a client and a server on 127.0.0.1 and,
 * connection by connection, passes bytes through, delays them, cuts the connection
 * after some bytes of the request (mid-body), resets it (RST), swallows it (accepts
 * and never answers), or loses the answer of a request the server handled. What each connection gets is decided by `plan(n)` for the n-th
 * connection (0-based), so tests are deterministic.
 */
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';

export type Fault =
  /** Passes bytes; with `dropAfterBytes`, cuts the connection after that many client bytes. */
  | { kind: 'pass'; dropAfterBytes?: number }
  /** Every chunk in both directions waits `ms`; `dropAfterBytes` as for pass. */
  | { kind: 'delay'; ms: number; dropAfterBytes?: number }
  /** Forwards `afterBytes` of the client's bytes upstream, then closes both sides. */
  | { kind: 'drop'; afterBytes: number }
  /** Forwards `afterBytes` of the client's bytes, then sends the client a TCP RST. */
  | { kind: 'reset'; afterBytes: number }
  /** Accepts and reads, never connects upstream, never answers. */
  | { kind: 'blackhole' }
  /** Forwards the request, then closes the client as the answer arrives: stored, never acknowledged. */
  | { kind: 'lose-answer' };

export interface TcpProxyOptions {
  /** Where connections go. */
  target: { host: string; port: number };
  plan?: (connection: number) => Fault;
  /** Port to listen on; 0 = any free one. */
  port?: number;
}

export class TcpProxy {
  /** Connections accepted so far, and the fault each got. */
  readonly faults: Fault['kind'][] = [];
  private readonly sockets = new Set<Socket>();
  plan: (connection: number) => Fault;

  private constructor(private readonly server: Server, private readonly opts: TcpProxyOptions) {
    this.plan = opts.plan ?? (() => ({ kind: 'pass' }));
    server.on('connection', (c) => this.handle(c));
  }

  static async start(opts: TcpProxyOptions): Promise<TcpProxy> {
    const server = createServer();
    const p = new TcpProxy(server, opts);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    return p;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private track(s: Socket): Socket {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    s.on('error', () => {});
    return s;
  }

  private handle(client: Socket): void {
    this.track(client);
    const fault = this.plan(this.faults.length);
    this.faults.push(fault.kind);
    if (fault.kind === 'blackhole') {
      client.resume();
      return;
    }
    const upstream = this.track(new Socket());
    upstream.connect(this.opts.target.port, this.opts.target.host);
    const delay = fault.kind === 'delay' ? fault.ms : 0;
    const forward = (from: Socket, to: Socket, limit?: number, onLimit?: () => void) => {
      let sent = 0;
      from.on('data', (chunk: Buffer) => {
        if (limit !== undefined) {
          if (sent >= limit) return;
          const room = limit - sent;
          if (chunk.length >= room) {
            sent = limit;
            to.write(chunk.subarray(0, room), () => onLimit?.());
            return;
          }
        }
        sent += chunk.length;
        if (delay > 0) {
          from.pause();
          setTimeout(() => {
            if (!to.destroyed) to.write(chunk);
            from.resume();
          }, delay);
        } else if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
      from.on('end', () => setTimeout(() => to.end(), delay));
      from.on('close', () => setTimeout(() => to.destroy(), delay));
    };
    if (fault.kind === 'lose-answer') {
      forward(client, upstream);
      upstream.once('data', () => {
        client.destroy();
        upstream.destroy();
      });
      return;
    }
    const limit = fault.kind === 'drop' || fault.kind === 'reset' ? fault.afterBytes : fault.dropAfterBytes;
    if (limit !== undefined) {
      const cut = () => {
        if (fault.kind === 'reset') client.resetAndDestroy();
        else client.destroy();
        upstream.destroy();
      };
      forward(client, upstream, limit, cut);
      forward(upstream, client);
    } else {
      forward(client, upstream);
      forward(upstream, client);
    }
  }

  /** Closes every connection and stops listening. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
