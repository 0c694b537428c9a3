/**
 * The agent's own HTTP endpoints: `/metrics` (self-metrics), `/healthz` (the process
 * runs), `/readyz` (a first tick has completed). Plain node:http keeps the agent small.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from '../metrics-registry.js';

export interface AgentHttpOptions {
  registry: Registry;
  ready: () => boolean;
}

export function createAgentServer(opts: AgentHttpOptions): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    switch (path) {
      case '/metrics':
        opts.registry.metrics().then(
          (text) => res.writeHead(200, { 'Content-Type': opts.registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
          (err: Error) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`collecting metrics: ${err.message}\n`),
        );
        return;
      case '/healthz':
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz':
        if (opts.ready()) res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ready\n');
        else res.writeHead(503, { 'Content-Type': 'text/plain' }).end('not ready: no tick completed yet\n');
        return;
      default:
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: try /metrics, /healthz or /readyz\n');
    }
  });
}
