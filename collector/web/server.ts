/**
 * Builds the collector's HTTP server from encapsulated plugins. `main.ts` decides which
 * plugins exist; tests build the same server and use `inject()`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from '../../shared/index.js';

export interface PluginRegistration {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  plugin: FastifyPluginAsync<any>;
  opts?: object;
}

export interface ServerOptions {
  logger?: Logger;
  plugins: readonly PluginRegistration[];
  /** Server-wide body limit for routes that set none, bytes. */
  bodyLimit?: number;
  /** Per-request timeout, ms (0 = none). */
  requestTimeoutMs?: number;
  /** Serve HTTPS with this key pair (see auth/tls.ts for reloading). */
  https?: { key: Buffer; cert: Buffer };
}

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.https ? { https: opts.https } : {}),
    loggerInstance: opts.logger?.child({ component: 'web' }) as FastifyBaseLogger | undefined,
    // Per-request logs would cost more than the requests; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    requestTimeout: opts.requestTimeoutMs ?? 0,
    return503OnClosing: true,
  });
  for (const p of opts.plugins) await app.register(p.plugin, p.opts ?? {});
  return app;
}
