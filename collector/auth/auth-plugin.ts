/**
 * The authentication hook of the collector's HTTP server. Every request needs
 * `Authorization: Bearer <token>` except the open paths (health, and `/metrics` when
 * configured). `POST /api/v1/write` needs the `push` role, everything else `read`.
 *
 * Answers reveal nothing: 401 for a missing, malformed or unknown token (the same body
 * whichever), 403 for a known identity without the role, 503 with `Retry-After` when
 * the authenticator cannot tell (API server unreachable) — senders retry rather than
 * drop. Register it before every other plugin: it is not encapsulated (the
 * `skip-override` symbol, as fastify-plugin sets), so its hook guards all routes.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { Counter } from 'prom-client';
import type { Logger } from '../../shared/index.js';
import { errorMessage, noopLogger } from '../../shared/index.js';
import type { Authenticator, Role } from './identity.js';
import { AuthUnavailableError } from './identity.js';

/** Paths that are always open: liveness and readiness. */
export const HEALTH_PATHS: readonly string[] = ['/-/healthy', '/-/ready', '/healthz', '/readyz', '/livez'];

export interface AuthPluginOptions {
  /** Tried in order; the first that knows the token wins. */
  authenticators: readonly Authenticator[];
  /** Leave `/metrics` open (Prometheus scraping without a token). Default false. */
  openMetrics?: boolean;
  /** More open paths (exact match). */
  openPaths?: readonly string[];
  registry?: Registry;
  logger?: Logger;
}

/** The role a request needs; undefined for open routes. */
export function requiredRole(method: string, path: string, open: ReadonlySet<string>): Role | undefined {
  if (open.has(path)) return undefined;
  if (path === '/api/v1/write') return 'push';
  return 'read';
}

const UNAUTHORIZED = JSON.stringify({ status: 'error', errorType: 'unauthorized', error: 'authentication required' });
const FORBIDDEN = JSON.stringify({ status: 'error', errorType: 'forbidden', error: 'forbidden' });
const UNAVAILABLE = JSON.stringify({ status: 'error', errorType: 'unavailable', error: 'authentication temporarily unavailable' });

const plugin: FastifyPluginAsync<AuthPluginOptions> = async (app, opts) => {
  const log = (opts.logger ?? noopLogger()).child({ component: 'auth' });
  const open = new Set([...HEALTH_PATHS, ...(opts.openMetrics ? ['/metrics'] : []), ...(opts.openPaths ?? [])]);
  const registers = opts.registry ? [opts.registry] : [];
  const results = new Counter({ name: 'kubepulse_auth_requests_total', help: 'Requests checked by the authentication hook, by result.', labelNames: ['result'], registers });
  for (const r of ['ok', 'unauthorized', 'forbidden', 'unavailable']) results.inc({ result: r }, 0);
  let lastUnavailableLog = 0;

  const deny = (reply: FastifyReply, code: 401 | 403 | 503, body: string) => {
    results.inc({ result: code === 401 ? 'unauthorized' : code === 403 ? 'forbidden' : 'unavailable' });
    if (code === 401) reply.header('WWW-Authenticate', 'Bearer realm="kubepulse"');
    if (code === 503) reply.header('Retry-After', '5');
    // Close: an unauthenticated sender must not hold the connection for its body.
    return reply.code(code).header('Connection', 'close').type('application/json').send(body);
  };

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?', 1)[0];
    const role = requiredRole(req.method, path, open);
    if (!role) return;
    const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return deny(reply, 401, UNAUTHORIZED);
    const token = m[1];
    try {
      for (const a of opts.authenticators) {
        const id = await a.authenticate(token);
        if (!id) continue;
        if (!id.roles.has(role)) {
          log.debug({ identity: id.name, role, path }, 'Identity lacks the role');
          return deny(reply, 403, FORBIDDEN);
        }
        req.kubepulseIdentity = id;
        results.inc({ result: 'ok' });
        return;
      }
    } catch (err) {
      if (!(err instanceof AuthUnavailableError)) throw err;
      const now = Date.now();
      if (now - lastUnavailableLog > 30_000) {
        lastUnavailableLog = now;
        log.error({ err: errorMessage(err) }, 'Cannot check tokens; answering 503 (logged every 30 s)');
      }
      return deny(reply, 503, UNAVAILABLE);
    }
    return deny(reply, 401, UNAUTHORIZED);
  });
};

(plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

/** Fastify plugin; see the module comment. Register first. */
export const authPlugin: FastifyPluginAsync<AuthPluginOptions> = plugin;
