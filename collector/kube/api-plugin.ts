/**
 * HTTP API of the cluster state, in the Prometheus JSON envelope:
 *
 * - `GET /api/v1/events` — stored events, newest first. Filters: `namespace` (of the
 *   involved object), `kind`, `name`, `type`, `reason`, `start`/`end` (RFC 3339 or
 *   Unix seconds; an event matches when [firstTime, lastTime] overlaps), `cluster`;
 *   paging: `limit` (1–1000, default 100) and `offset`.
 * - `GET /api/v1/objects/:kind/:namespace/:name` and `…/history` for namespaced kinds;
 *   `GET /api/v1/objects/:kind/:name` and `…/:name/history` for cluster-scoped ones
 *   (nodes, namespaces, persistentvolumes); `_` stands for "no namespace" too
 *   (`/api/v1/objects/nodes/_/node-1`). `:kind` is a plural, singular or Kind.
 *   History: `limit` (default 100).
 * - `GET /api/v1/topology` — filters `namespace`, `node`, `cluster`.
 *
 * With no cluster state (no API server configured) every route answers 503
 * `unavailable`. A `cluster` parameter naming another cluster matches nothing.
 */
import type { FastifyPluginAsync } from 'fastify';
import { ApiError, apiErrorHandler, success } from '../web/api-envelope.js';
import type { ClusterState } from './cluster-state.js';
import { findResource, type WatchedResource } from './resources.js';

/** What the plugin reads; {@link ClusterState} provides it. */
export type ClusterStateView = Pick<ClusterState, 'cluster' | 'events' | 'object' | 'history' | 'topology' | 'watches'>;

export interface KubeApiPluginOptions {
  /** The cluster state; undefined when the collector runs without one. */
  state: ClusterStateView | undefined;
}

type Q = Record<string, string | undefined>;

function parseTime(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (Number.isFinite(n)) return n * 1000;
  const t = Date.parse(v);
  if (Number.isFinite(t)) return t;
  throw new ApiError('bad_data', `invalid parameter ${JSON.stringify(name)}: cannot parse ${JSON.stringify(v)} to a valid timestamp`);
}

function parseInt10(name: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ApiError('bad_data', `invalid parameter ${JSON.stringify(name)}: ${JSON.stringify(v)} is not an integer in [${min}, ${max}]`);
  return n;
}

/** The fastify plugin; register it with `{ state }`. */
export const kubeApiPlugin: FastifyPluginAsync<KubeApiPluginOptions> = async (app, opts) => {
  app.setErrorHandler(apiErrorHandler);

  const need = (): ClusterStateView => {
    if (!opts.state) throw new ApiError('unavailable', 'cluster state is disabled: no Kubernetes API server configured (use --kubeconfig or run in a cluster)');
    return opts.state;
  };
  const otherCluster = (s: ClusterStateView, q: Q) => q.cluster !== undefined && q.cluster !== '' && q.cluster !== s.cluster;
  const kindOf = (s: ClusterStateView, kind: string): WatchedResource => {
    const r = findResource(kind);
    if (!r || r.resource === 'events' || !s.watches(r.resource)) throw new ApiError('bad_data', `unknown or unwatched kind ${JSON.stringify(kind)}`);
    return r;
  };

  app.get('/api/v1/events', async (req) => {
    const s = need();
    const q = req.query as Q;
    const limit = parseInt10('limit', q.limit, 100, 1, 1000);
    const offset = parseInt10('offset', q.offset, 0, 0, Number.MAX_SAFE_INTEGER);
    const start = parseTime('start', q.start);
    const end = parseTime('end', q.end);
    if (start !== undefined && end !== undefined && end < start) throw new ApiError('bad_data', 'invalid parameter "end": end timestamp must not be before start time');
    if (otherCluster(s, q)) return success({ events: [], total: 0, limit, offset });
    const r = s.events({ namespace: q.namespace, kind: q.kind, name: q.name, type: q.type, reason: q.reason, start, end, limit, offset });
    return success({ ...r, limit, offset, ...(offset + r.events.length < r.total ? { nextOffset: offset + r.events.length } : {}) });
  });

  const objectRoute = (s: ClusterStateView, r: WatchedResource, namespace: string, name: string, history: boolean, q: Q) => {
    if (otherCluster(s, q)) throw new ApiError('not_found', `no ${r.kind} ${name} in cluster ${q.cluster}`);
    if (history) {
      if (!r.history) throw new ApiError('bad_data', `no change history is kept for ${r.resource}`);
      return success(s.history(r, namespace, name, parseInt10('limit', q.limit, 100, 1, 10_000)));
    }
    const v = s.object(r, namespace, name);
    if (!v) throw new ApiError('not_found', `${r.kind} ${namespace ? `${namespace}/` : ''}${name} not found`);
    return success(v);
  };
  const needNamespace = (r: WatchedResource) => new ApiError('bad_data', `${r.resource} are namespaced: use /api/v1/objects/${r.resource}/<namespace>/<name>`);

  app.get('/api/v1/objects/:kind/:a', async (req) => {
    const s = need();
    const p = req.params as { kind: string; a: string };
    const r = kindOf(s, p.kind);
    if (r.namespaced) throw needNamespace(r);
    return objectRoute(s, r, '', p.a, false, req.query as Q);
  });
  app.get('/api/v1/objects/:kind/:a/:b', async (req) => {
    const s = need();
    const p = req.params as { kind: string; a: string; b: string };
    const r = kindOf(s, p.kind);
    if (r.namespaced) return objectRoute(s, r, p.a, p.b, false, req.query as Q);
    if (p.b === 'history') return objectRoute(s, r, '', p.a, true, req.query as Q);
    if (p.a === '_') return objectRoute(s, r, '', p.b, false, req.query as Q);
    throw new ApiError('bad_data', `${r.resource} are cluster-scoped: use /api/v1/objects/${r.resource}/<name>`);
  });
  app.get('/api/v1/objects/:kind/:a/:b/history', async (req) => {
    const s = need();
    const p = req.params as { kind: string; a: string; b: string };
    const r = kindOf(s, p.kind);
    if (r.namespaced) return objectRoute(s, r, p.a, p.b, true, req.query as Q);
    if (p.a === '_') return objectRoute(s, r, '', p.b, true, req.query as Q);
    throw new ApiError('bad_data', `${r.resource} are cluster-scoped: use /api/v1/objects/${r.resource}/<name>/history`);
  });

  app.get('/api/v1/topology', async (req) => {
    const s = need();
    const q = req.query as Q;
    if (otherCluster(s, q)) return success({ cluster: q.cluster, nodes: [], unscheduled: [] });
    return success(s.topology({ namespace: q.namespace || undefined, node: q.node || undefined }));
  });
};
