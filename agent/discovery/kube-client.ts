/**
 * The two requests the agent makes to the API server: a list (JSON, paged with
 * `continue`) and a watch (one JSON event per line, kept open). Written on `node:https`
 * rather than client-node for memory (see kube-connection.ts); the protocol is the API
 * server's own: https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import type { KubeConnection } from './kube-connection.js';

/** A non-2xx answer (or an ERROR watch event) from the API server. */
export class KubeApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** One watch event, as the API server streams it. */
export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** A `Status` object, as in ERROR events and error bodies. */
interface Status {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

/** A longer line is not a pod: the stream is broken or hostile, and memory must stay bounded. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;
const MAX_ERROR_BODY = 64 * 1024;

export class KubeClient {
  private readonly conn: KubeConnection;
  private readonly agent: Agent | undefined;

  constructor(conn: KubeConnection) {
    this.conn = conn;
    // One kept-alive connection serves the list and then the watch.
    this.agent = conn.server.startsWith('https:')
      ? new Agent({ keepAlive: true, maxSockets: 2, ca: conn.ca, cert: conn.cert, key: conn.key, servername: conn.servername, rejectUnauthorized: !conn.insecureSkipVerify })
      : undefined;
  }

  /** GET `path` with `query`; the parsed JSON body. Rejects with {@link KubeApiError} on non-2xx. */
  async getJson<T>(path: string, query: Record<string, string>, signal: AbortSignal, timeoutMs: number): Promise<T> {
    const res = await this.open(path, query, signal, timeoutMs);
    let body = '';
    res.setEncoding('utf8');
    for await (const chunk of res) body += chunk as string;
    try {
      return JSON.parse(body) as T;
    } catch {
      throw new KubeApiError(0, `${this.describe(path)}: the answer is not JSON (${body.length} bytes)`);
    }
  }

  /**
   * Opens a watch and calls `onEvent` for each event until the server ends the stream
   * (resolves), the signal aborts (resolves), or an error (rejects). No data for
   * `idleMs` counts as an error: a half-open connection must not stall the watch forever.
   */
  async watch<T>(path: string, query: Record<string, string>, signal: AbortSignal, idleMs: number, onEvent: (e: WatchEvent<T>) => void): Promise<void> {
    const res = await this.open(path, { ...query, watch: '1' }, signal, idleMs);
    res.setEncoding('utf8');
    let buf = '';
    try {
      for await (const chunk of res) {
        buf += chunk as string;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) onEvent(this.parseEvent<T>(path, line));
        }
        if (buf.length > MAX_LINE_BYTES) throw new KubeApiError(0, `${this.describe(path)}: a watch event longer than ${MAX_LINE_BYTES} bytes`);
      }
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    if (buf.trim()) onEvent(this.parseEvent<T>(path, buf));
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.agent?.destroy();
  }

  private parseEvent<T>(path: string, line: string): WatchEvent<T> {
    let e: WatchEvent<T>;
    try {
      e = JSON.parse(line) as WatchEvent<T>;
    } catch {
      throw new KubeApiError(0, `${this.describe(path)}: a watch event is not JSON: ${line.slice(0, 200)}`);
    }
    if (e.type === 'ERROR') {
      const s = e.object as Status;
      throw new KubeApiError(s.code ?? 0, `${this.describe(path)}: watch error ${s.code ?? ''} ${s.reason ?? ''}: ${s.message ?? ''}`.trim());
    }
    return e;
  }

  private describe(path: string): string {
    return `${this.conn.server}${path}`;
  }

  /** Sends the request; resolves with a 2xx response, rejects with the status and the server's message otherwise. */
  private async open(path: string, query: Record<string, string>, signal: AbortSignal, timeoutMs: number): Promise<IncomingMessage> {
    const headers = { accept: 'application/json', 'user-agent': 'kubepulse-agent', ...(await this.conn.authHeaders()) };
    const url = new URL(this.conn.server + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      let req: ClientRequest | undefined;
      try {
        req = send(url, { method: 'GET', headers, agent: this.agent, signal, timeout: timeoutMs }, resolve);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      req.once('timeout', () => req?.destroy(new KubeApiError(0, `${this.describe(path)}: no answer for ${timeoutMs} ms`)));
      req.once('error', reject);
      req.end();
    });
    if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) return res;
    let body = '';
    res.setEncoding('utf8');
    for await (const chunk of res) if (body.length < MAX_ERROR_BODY) body += chunk as string;
    let message = body.slice(0, 500);
    try {
      message = (JSON.parse(body) as Status).message ?? message;
    } catch {
      // not a Status: keep the raw text
    }
    throw new KubeApiError(res.statusCode ?? 0, `${this.describe(path)}: HTTP ${res.statusCode}: ${message}`);
  }
}
