/**
 * Bearer tokens checked with the Kubernetes TokenReview API
 * (`POST /apis/authentication.k8s.io/v1/tokenreviews`), over plain `node:https` with the
 * collector's own in-cluster credentials (or given ones). Answers are cached for a short
 * TTL keyed by the token's SHA-256, so a busy agent costs the API server one review per
 * TTL; negative answers are cached for less, so a newly created account works soon.
 *
 * The collector's ServiceAccount needs `create` on `tokenreviews.authentication.k8s.io`
 * (the `system:auth-delegator` ClusterRole grants it).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../../shared/index.js';
import { errorMessage, noopLogger } from '../../shared/index.js';
import type { Authenticator, Identity, Role } from './identity.js';
import { AuthUnavailableError } from './identity.js';
import { sha256 } from './static-tokens.js';

export const IN_CLUSTER_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';
export const IN_CLUSTER_CA_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

export interface TokenReviewOptions {
  /** API server base URL; default from KUBERNETES_SERVICE_HOST/PORT (in-cluster). */
  apiUrl?: string;
  /** The collector's own token, re-read on every review (projected tokens rotate). '' = none. */
  tokenFile?: string;
  /** CA of the API server (https). */
  caFile?: string;
  /** Audiences the token must be valid for; empty = the API server's default. */
  audiences?: readonly string[];
  /** Identities (`system:serviceaccount:<ns>:<name>`) that may push. */
  pushIdentities: readonly string[];
  /** Identities or groups that may read; `*` = any authenticated identity. */
  readIdentities: readonly string[];
  /** How long a positive answer is trusted, ms. Default 60 s. */
  cacheTtlMs?: number;
  /** How long a negative answer is trusted, ms. Default 10 s. */
  negativeCacheTtlMs?: number;
  /** Entries kept; the oldest go first. Default 10,000. */
  maxCacheEntries?: number;
  /** Time allowed for one review, ms. Default 5 s. */
  timeoutMs?: number;
  logger?: Logger;
  now?: () => number;
  env?: Readonly<Record<string, string | undefined>>;
}

interface CacheEntry {
  identity: Identity | undefined;
  expires: number;
}

export class TokenReviewAuthenticator implements Authenticator {
  private readonly opts: TokenReviewOptions;
  private readonly url: URL;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<Identity | undefined>>();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly agent: http.Agent;
  /** Reviews sent to the API server (tests and self-metrics). */
  reviews = 0;

  constructor(opts: TokenReviewOptions) {
    this.opts = opts;
    const env = opts.env ?? process.env;
    let base = opts.apiUrl;
    if (!base) {
      const host = env.KUBERNETES_SERVICE_HOST;
      if (!host) throw new Error('auth.kubernetes: not running in a cluster (KUBERNETES_SERVICE_HOST unset) and auth.kubernetes.api_url not set');
      base = `https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`;
    }
    this.url = new URL('/apis/authentication.k8s.io/v1/tokenreviews', base);
    this.log = (opts.logger ?? noopLogger()).child({ component: 'auth' });
    this.now = opts.now ?? Date.now;
    const ca = this.url.protocol === 'https:' ? readFileSync(opts.caFile ?? IN_CLUSTER_CA_FILE) : undefined;
    this.agent = this.url.protocol === 'https:' ? new https.Agent({ keepAlive: true, ca }) : new http.Agent({ keepAlive: true });
  }

  async authenticate(token: string): Promise<Identity | undefined> {
    const key = sha256(token);
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && hit.expires > now) return hit.identity;
    // Concurrent requests with one token share one review.
    let p = this.inflight.get(key);
    if (!p) {
      p = this.review(token).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const identity = await p;
    this.remember(key, identity);
    return identity;
  }

  private remember(key: string, identity: Identity | undefined): void {
    const ttl = identity ? (this.opts.cacheTtlMs ?? 60_000) : (this.opts.negativeCacheTtlMs ?? 10_000);
    this.cache.delete(key);
    this.cache.set(key, { identity, expires: this.now() + ttl });
    const max = this.opts.maxCacheEntries ?? 10_000;
    while (this.cache.size > max) this.cache.delete(this.cache.keys().next().value as string);
  }

  private rolesOf(username: string, groups: readonly string[]): Set<Role> {
    const roles = new Set<Role>();
    if (this.opts.pushIdentities.includes(username)) roles.add('push');
    const read = this.opts.readIdentities;
    if (read.includes('*') || read.includes(username) || groups.some((g) => read.includes(g)) || roles.has('push')) roles.add('read');
    return roles;
  }

  private async review(token: string): Promise<Identity | undefined> {
    this.reviews++;
    const body = JSON.stringify({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, ...(this.opts.audiences?.length ? { audiences: this.opts.audiences } : {}) },
    });
    const headers: Record<string, string | number> = { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': Buffer.byteLength(body) };
    const tokenFile = this.opts.tokenFile ?? IN_CLUSTER_TOKEN_FILE;
    if (tokenFile) {
      try {
        headers.Authorization = `Bearer ${readFileSync(tokenFile, 'utf8').trim()}`;
      } catch (err) {
        throw new AuthUnavailableError(`reading the collector's own token ${tokenFile}: ${errorMessage(err)}`);
      }
    }
    const lib = this.url.protocol === 'https:' ? https : http;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = lib.request(this.url, { method: 'POST', headers, agent: this.agent, timeout: this.opts.timeoutMs ?? 5000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end(body);
    }).catch((err: unknown) => {
      throw new AuthUnavailableError(`TokenReview at ${this.url.origin}: ${errorMessage(err)}`);
    });
    if (status !== 200 && status !== 201) {
      this.log.error({ status, body: text.slice(0, 300) }, 'TokenReview failed; does the collector\'s ServiceAccount have system:auth-delegator?');
      throw new AuthUnavailableError(`TokenReview answered ${status}`);
    }
    let parsed: { status?: { authenticated?: boolean; user?: { username?: string; groups?: string[] } } };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new AuthUnavailableError('TokenReview answer is not JSON');
    }
    const st = parsed.status;
    if (!st?.authenticated || !st.user?.username) return undefined;
    const groups = st.user.groups ?? [];
    return { name: st.user.username, groups, roles: this.rolesOf(st.user.username, groups), via: 'kubernetes' };
  }

  close(): void {
    this.agent.destroy();
  }
}
