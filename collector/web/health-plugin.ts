/**
 * Prometheus-style health endpoints: `/-/healthy` answers while the process serves HTTP,
 * `/-/ready` once every component has started (503 before that and while stopping).
 * Fastify adds HEAD for each GET.
 */
import type { FastifyPluginAsync } from 'fastify';

export interface Readiness {
  ready(): boolean;
}

export const healthPlugin: FastifyPluginAsync<{ readiness: Readiness }> = async (app, opts) => {
  app.get('/-/healthy', async (_req, reply) => reply.type('text/plain').send('kubepulse collector is Healthy.\n'));
  app.get('/-/ready', async (_req, reply) =>
    opts.readiness.ready()
      ? reply.type('text/plain').send('kubepulse collector is Ready.\n')
      : reply.code(503).type('text/plain').send('Service Unavailable: starting or stopping.\n'),
  );
};
