/**
 * Fetches `/stats/summary` from the kubelet over HTTPS (or HTTP for tests and proxies)
 * with the service-account token, verifying the serving certificate against the cluster
 * CA unless told otherwise. Every failure is a {@link KubeletError} whose `reason` is the
 * stable label value of `kubepulse_agent_source_errors_total{reason}` and whose message
 * says what to do.
 */
import { readFile } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { KubepulseError, errorMessage } from '../../../shared/index.js';
import type { Summary } from './summary-types.js';

/** Stable failure reasons, as label values. */
export const KubeletFailure = {
  TLS_VERIFY: 'tls_verify',
  UNAUTHORIZED: 'unauthorized',
  FORBIDDEN: 'forbidden',
  TIMEOUT: 'timeout',
  CONNECT: 'connect',
  HTTP_STATUS: 'http_status',
  MALFORMED_JSON: 'malformed_json',
  TOO_LARGE: 'too_large',
  TOKEN_READ: 'token_read',
  CA_READ: 'ca_read',
} as const;
export type KubeletFailure = (typeof KubeletFailure)[keyof typeof KubeletFailure];

/** A failed kubelet request; `reason` is one of {@link KubeletFailure}. */
export class KubeletError extends KubepulseError {
  readonly reason: KubeletFailure;
  constructor(reason: KubeletFailure, message: string, options?: ErrorOptions) {
    super(`KP_ERR_KUBELET_${reason.toUpperCase()}`, message, options);
    this.reason = reason;
  }
}

export interface KubeletClientOptions {
  /** Base URL, e.g. `https://10.0.0.5:10250`; a path prefix is kept (API-server node proxy). */
  url: string;
  /** File holding the bearer token, re-read on every request (projected tokens rotate). Absent: no Authorization header. */
  tokenFile?: string;
  /** PEM bundle the kubelet's serving certificate must chain to. Absent: the system trust store. */
  caFile?: string;
  /** Skip TLS verification entirely (`--kubelet-insecure-skip-verify`). Default false. */
  insecureSkipVerify?: boolean;
  /** Whole-request timeout (connect, headers, body), ms. Default 5000. */
  timeoutMs?: number;
  /** Refuse bodies larger than this, bytes. Default 64 MiB. */
  maxBodyBytes?: number;
}

const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

/** Client for one kubelet. Stateless between requests apart from the cached CA and diagnostics. */
export class KubeletClient {
  private readonly base: URL;
  private readonly opts: KubeletClientOptions;
  private ca: Buffer | undefined;
  /** Certificate descriptions already probed, by error code: one probe per cause. */
  private readonly certProbe = new Map<string, string>();
  /**
   * One kept-alive connection, reused tick after tick: a TLS handshake (and a new TLS
   * context holding the CA) per tick cost more CPU than parsing the summary.
   */
  private agent: HttpAgent | undefined;
  /**
   * The body buffer, reused by every request: a fresh half-megabyte buffer per tick
   * (and the chunk list concatenated into it) is off-heap garbage that the allocator
   * keeps as fragmentation.
   */
  private body = Buffer.allocUnsafe(64 * 1024);
  /** Size of the last body read, to let the buffer go after one far larger answer. */
  private lastBodySize = 0;

  constructor(opts: KubeletClientOptions) {
    let base: URL;
    try {
      base = new URL(opts.url);
    } catch (err) {
      throw new KubepulseError('KP_ERR_KUBELET_URL', `kubelet url ${JSON.stringify(opts.url)} is not a URL`, { cause: err });
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') {
      throw new KubepulseError('KP_ERR_KUBELET_URL', `kubelet url ${opts.url} must be http:// or https://, got ${base.protocol}`);
    }
    if (opts.timeoutMs !== undefined && !(opts.timeoutMs > 0)) throw new KubepulseError('KP_ERR_KUBELET_URL', `kubelet timeout must be positive, got ${opts.timeoutMs}`);
    this.base = base;
    this.opts = opts;
  }

  /** The URL of `/stats/summary` this client fetches. */
  get summaryUrl(): string {
    return this.endpoint('/stats/summary').toString();
  }

  /** GET /stats/summary, parsed. Rejects with {@link KubeletError}. */
  async summary(signal?: AbortSignal): Promise<Summary> {
    const body = await this.get('/stats/summary', signal);
    try {
      return JSON.parse(body.toString('utf8')) as Summary;
    } catch (err) {
      throw new KubeletError(
        KubeletFailure.MALFORMED_JSON,
        `kubelet ${this.summaryUrl} returned malformed JSON (${body.length} bytes, starting ${JSON.stringify(body.subarray(0, 40).toString('utf8'))}): ${errorMessage(err)}; is --kubelet-url pointing at the kubelet?`,
        { cause: err },
      );
    }
  }

  /**
   * GET `path` relative to the base URL; the raw body of a 2xx answer. The buffer is the
   * client's own and valid until its next request: copy it to keep it.
   */
  async get(path: string, signal?: AbortSignal): Promise<Buffer> {
    const url = this.endpoint(path);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.opts.tokenFile) {
      let token: string;
      try {
        token = (await readFile(this.opts.tokenFile, 'utf8')).trim();
      } catch (err) {
        throw new KubeletError(KubeletFailure.TOKEN_READ, `reading the service-account token ${this.opts.tokenFile}: ${errorMessage(err)}`, { cause: err });
      }
      headers.Authorization = `Bearer ${token}`;
    }
    const https = url.protocol === 'https:';
    if (https && this.opts.caFile && !this.opts.insecureSkipVerify && !this.ca) {
      try {
        this.ca = await readFile(this.opts.caFile);
      } catch (err) {
        throw new KubeletError(KubeletFailure.CA_READ, `reading the cluster CA ${this.opts.caFile}: ${errorMessage(err)}`, { cause: err });
      }
    }
    try {
      return await this.fetch(url, headers, https, signal);
    } catch (err) {
      // The kubelet may close an idle kept-alive connection just as a tick reuses it:
      // that request never reached it, so one retry on a new connection is safe.
      if (err instanceof StaleConnectionError) return this.fetch(url, headers, https, signal);
      throw err;
    }
  }

  private fetch(url: URL, headers: Record<string, string>, https: boolean, signal: AbortSignal | undefined): Promise<Buffer> {
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    const maxBody = this.opts.maxBodyBytes ?? 64 * 1024 * 1024;
    this.agent ??= https
      ? new HttpsAgent({ keepAlive: true, ca: this.ca, rejectUnauthorized: !this.opts.insecureSkipVerify })
      : new HttpAgent({ keepAlive: true });
    return new Promise<Buffer>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const onResponse = (res: IncomingMessage) => {
        let size = 0;
        if (this.body.length > 4 * Math.max(this.lastBodySize, 256 * 1024)) this.body = Buffer.allocUnsafe(Math.max(64 * 1024, Math.ceil(this.lastBodySize * 1.25)));
        res.on('data', (c: Buffer) => {
          if (settled) return;
          if (size + c.length > maxBody) {
            fail(new KubeletError(KubeletFailure.TOO_LARGE, `kubelet ${url} answered more than ${maxBody} bytes`));
            return;
          }
          if (size + c.length > this.body.length) {
            const bigger = Buffer.allocUnsafe(Math.ceil((size + c.length) * 1.25));
            bigger.set(this.body.subarray(0, size));
            this.body = bigger;
          }
          this.body.set(c, size);
          size += c.length;
        });
        res.on('error', (err) => fail(this.classify(err, url)));
        res.on('end', () => {
          if (settled) return;
          const status = res.statusCode ?? 0;
          const body = this.body.subarray(0, size);
          this.lastBodySize = size;
          if (status >= 200 && status < 300) {
            settled = true;
            clearTimeout(timer);
            resolve(body);
            return;
          }
          fail(this.statusError(status, url, body));
        });
      };
      const reqOpts = { method: 'GET', headers, agent: this.agent };
      const req = https ? httpsRequest(url, reqOpts, onResponse) : httpRequest(url, reqOpts, onResponse);
      const timer = setTimeout(() => fail(new KubeletError(KubeletFailure.TIMEOUT, `kubelet ${url} did not answer within ${timeoutMs} ms; is the kubelet reachable from the pod network on that address and port?`)), timeoutMs);
      timer.unref();
      req.on('error', (err) => {
        if (settled) return;
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) {
          fail(new StaleConnectionError(err));
          return;
        }
        if (https && TLS_VERIFY_CODES.has(code)) {
          void this.describePeer(url, code).then((peer) => fail(this.tlsError(err, url, peer)));
        } else {
          fail(this.classify(err, url));
        }
      });
      if (signal) {
        if (signal.aborted) fail(new KubeletError(KubeletFailure.TIMEOUT, `kubelet request to ${url} aborted: the tick's deadline passed`));
        signal.addEventListener('abort', () => fail(new KubeletError(KubeletFailure.TIMEOUT, `kubelet request to ${url} aborted: the tick's deadline passed`)), { once: true });
      }
      req.end();
    });
  }

  private endpoint(path: string): URL {
    const u = new URL(this.base.toString());
    u.pathname = u.pathname.replace(/\/+$/, '') + path;
    return u;
  }

  private classify(err: Error, url: URL): KubeletError {
    return new KubeletError(KubeletFailure.CONNECT, `connecting to kubelet ${url}: ${errorMessage(err)}`, { cause: err });
  }

  private statusError(status: number, url: URL, body: Buffer): KubeletError {
    const snippet = body.subarray(0, 200).toString('utf8').trim();
    if (status === 401) {
      return new KubeletError(
        KubeletFailure.UNAUTHORIZED,
        `kubelet ${url} answered 401 Unauthorized: the kubelet did not accept the service-account token${this.opts.tokenFile ? ` from ${this.opts.tokenFile}` : ' (no token file configured)'}; the kubelet needs --authentication-token-webhook=true and the agent a valid token`,
      );
    }
    if (status === 403) {
      return new KubeletError(
        KubeletFailure.FORBIDDEN,
        `kubelet ${url} answered 403 Forbidden: the agent's ServiceAccount lacks RBAC permission "get" on resource "nodes/stats" (apiGroup ""); grant it with a ClusterRole rule {apiGroups: [""], resources: ["nodes/stats"], verbs: ["get"]}${snippet ? ` (kubelet said: ${snippet})` : ''}`,
      );
    }
    return new KubeletError(KubeletFailure.HTTP_STATUS, `kubelet ${url} answered HTTP ${status}${snippet ? `: ${snippet}` : ''}`);
  }

  private tlsError(err: Error, url: URL, peer: string): KubeletError {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const ca = this.opts.caFile ? `the CA bundle ${this.opts.caFile}` : 'the system trust store (no CA file configured)';
    return new KubeletError(
      KubeletFailure.TLS_VERIFY,
      `TLS verification of the kubelet at ${url.host} failed (${code}: ${errorMessage(err)}): checked the name ${JSON.stringify(url.hostname)} against ${ca}; the kubelet presented ${peer}. ` +
        'Fix: have the kubelet serve a certificate signed by the cluster CA with this address in its SANs (serverTLSBootstrap: true), or pass --kubelet-insecure-skip-verify to skip verification.',
      { cause: err },
    );
  }

  /** Fetches the peer certificate without verification, to say in the log what the kubelet presented. */
  private async describePeer(url: URL, code: string): Promise<string> {
    const cached = this.certProbe.get(code);
    if (cached) return cached;
    const desc = await new Promise<string>((resolve) => {
      const sock = tlsConnect({ host: url.hostname, port: Number(url.port || 443), rejectUnauthorized: false, servername: isIp(url.hostname) ? undefined : url.hostname }, () => {
        resolve(describeCert(sock.getPeerCertificate()));
        sock.destroy();
      });
      sock.setTimeout(2000, () => {
        resolve('a certificate that could not be fetched (timeout)');
        sock.destroy();
      });
      sock.on('error', (e) => resolve(`a certificate that could not be fetched (${errorMessage(e)})`));
    });
    this.certProbe.set(code, desc);
    return desc;
  }
}

/** A kept-alive connection the server had closed; the request can be sent again. */
class StaleConnectionError extends Error {
  constructor(cause: Error) {
    super(`kept-alive connection closed by the kubelet: ${errorMessage(cause)}`, { cause });
  }
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

function describeCert(c: PeerCertificate): string {
  if (!c || !c.subject) return 'no certificate';
  const subject = c.subject.CN ? `CN=${c.subject.CN}` : JSON.stringify(c.subject);
  const issuer = c.issuer?.CN ? `CN=${c.issuer.CN}` : JSON.stringify(c.issuer ?? {});
  return `a certificate for ${subject} (SANs: ${c.subjectaltname ?? 'none'}) issued by ${issuer}, valid ${c.valid_from} to ${c.valid_to}`;
}
