/**
 * The Prometheus HTTP query API (`/api/v1/query`, `query_range`, `series`, `labels`,
 * `label/<name>/values`, `metadata`, `status/buildinfo`, `query_exemplars`) as an
 * encapsulated fastify plugin: GET with a query string or POST with a form body, the
 * Prometheus JSON envelope and error types, so Grafana's Prometheus data source works.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Labels } from '../../../shared/index.js';
import { isValidLabelName, labelsKey, labelsToObject, compareLabels, errorMessage } from '../../../shared/index.js';
import type { HeadReader, Matcher, Queryable } from '../../storage/index.js';
import type { Engine, QueryResult } from '../../promql/index.js';
import { ParseError, QueryError, parseExpr, parseSeriesSelector } from '../../promql/index.js';
import { ApiError, apiErrorHandler, success } from '../api-envelope.js';
import { encodeQueryValue } from './encode.js';
import { MAX_TIME, MIN_TIME, parseDurationParam, parseTimeParam } from './params.js';

/** What `/api/v1/status/buildinfo` reports. */
export interface BuildInfo {
  version: string;
  revision: string;
  branch: string;
  buildUser: string;
  buildDate: string;
  goVersion: string;
}

export interface QueryApiPluginOptions {
  engine: Engine;
  queryable: Queryable;
  /** Source of `/api/v1/metadata`; without it the endpoint answers `{}`. */
  headReader?: HeadReader;
  buildInfo: BuildInfo;
  /** Clock for the default `time` of instant queries; tests inject it. */
  now?: () => number;
  /** Most points per series a range query may return; default 11,000 as Prometheus. */
  maxPointsPerSeries?: number;
}

type Params = Record<string, string | string[] | undefined>;

/** Form values from the query string and the form body; the body wins, as Go's FormValue. */
function params(req: FastifyRequest): Params {
  const q = (req.query ?? {}) as Params;
  const b = req.body && typeof req.body === 'object' ? (req.body as Params) : {};
  return { ...q, ...b };
}

function one(p: Params, name: string): string | undefined {
  const v = p[name];
  return Array.isArray(v) ? v[0] : v;
}

function all(p: Params, name: string, req: FastifyRequest): string[] {
  const q = (req.query ?? {}) as Params;
  const b = req.body && typeof req.body === 'object' ? (req.body as Params) : {};
  const out: string[] = [];
  for (const src of [b, q]) {
    const v = src[name];
    if (v === undefined) continue;
    out.push(...(Array.isArray(v) ? v : [v]));
  }
  return out;
}

function queryError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ParseError) return new ApiError('bad_data', `invalid parameter "query": ${err.message}`, { cause: err });
  if (err instanceof QueryError) {
    const type = err.errorType === 'bad_data' ? 'bad_data' : err.errorType;
    return new ApiError(type, err.message, { cause: err });
  }
  return new ApiError('internal', errorMessage(err), { cause: err });
}

function matcherSets(p: string[]): Matcher[][] {
  return p.map((m) => {
    try {
      return parseSeriesSelector(m);
    } catch (err) {
      throw new ApiError('bad_data', `invalid parameter "match[]": ${errorMessage(err)}`);
    }
  });
}

function timeRange(p: Params): [number, number] {
  const s = one(p, 'start');
  const e = one(p, 'end');
  const start = s ? parseTimeParam('start', s) : MIN_TIME;
  const end = e ? parseTimeParam('end', e) : MAX_TIME;
  if (end < start) throw new ApiError('bad_data', 'invalid parameter "end": end timestamp must not be before start time');
  return [start, end];
}

function limitParam(p: Params): number {
  const l = one(p, 'limit');
  if (l === undefined || l === '') return 0;
  const n = Number(l);
  if (!Number.isInteger(n)) throw new ApiError('bad_data', `invalid parameter "limit": cannot parse ${JSON.stringify(l)} to a valid limit`);
  return n;
}

const plugin: FastifyPluginAsync<QueryApiPluginOptions> = async (app, opts) => {
  const { engine, queryable, headReader, buildInfo } = opts;
  const now = opts.now ?? Date.now;
  const maxPoints = opts.maxPointsPerSeries ?? 11_000;

  app.setErrorHandler(apiErrorHandler);
  // Fastify has no form parser; this one lives only inside this plugin's context.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of new URLSearchParams(body as string)) {
      const cur = out[k];
      out[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [cur, v];
    }
    done(null, out);
  });

  const timeoutOf = (p: Params): number | undefined => {
    const t = one(p, 'timeout');
    return t ? parseDurationParam('timeout', t) : undefined;
  };

  const answer = (r: QueryResult) => success(encodeQueryValue(r.value), r.warnings.length ? [...r.warnings] : undefined);

  /** The `query` parameter parsed; a syntax error becomes Prometheus's bad_data answer. */
  const queryParam = (p: Params) => {
    try {
      return parseExpr(one(p, 'query') ?? '');
    } catch (err) {
      throw queryError(err);
    }
  };

  const instant = async (req: FastifyRequest) => {
    const p = params(req);
    const t = one(p, 'time');
    const ts = t ? parseTimeParam('time', t) : now();
    const timeoutMs = timeoutOf(p);
    const expr = queryParam(p);
    try {
      return answer(await engine.instantQuery(queryable, expr, ts, { timeoutMs }));
    } catch (err) {
      throw queryError(err);
    }
  };

  const range = async (req: FastifyRequest) => {
    const p = params(req);
    const s = one(p, 'start');
    const e = one(p, 'end');
    const st = one(p, 'step');
    const start = parseTimeParam('start', s ?? '');
    const end = parseTimeParam('end', e ?? '');
    if (end < start) throw new ApiError('bad_data', 'invalid parameter "end": end timestamp must not be before start time');
    const step = parseDurationParam('step', st ?? '');
    if (step <= 0) {
      throw new ApiError('bad_data', 'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer');
    }
    if ((end - start) / step > maxPoints) {
      throw new ApiError(
        'bad_data',
        `exceeded maximum resolution of ${maxPoints.toLocaleString('en-US')} points per timeseries. Try decreasing the query resolution (?step=XX)`,
      );
    }
    const timeoutMs = timeoutOf(p);
    const expr = queryParam(p);
    try {
      return answer(await engine.rangeQuery(queryable, expr, start, end, step, { timeoutMs }));
    } catch (err) {
      throw queryError(err);
    }
  };

  const series = async (req: FastifyRequest) => {
    const p = params(req);
    const matches = all(p, 'match[]', req);
    if (matches.length === 0) throw new ApiError('bad_data', 'no match[] parameter provided');
    const sets = matcherSets(matches);
    const [start, end] = timeRange(p);
    const limit = limitParam(p);
    const q = queryable.querier(start, end);
    try {
      const seen = new Map<string, Labels>();
      for (const ms of sets) for (const s of q.select(ms, { start, end, func: 'series' })) seen.set(labelsKey(s.labels), s.labels);
      let out = [...seen.values()].sort(compareLabels);
      const warnings: string[] = [];
      if (limit > 0 && out.length > limit) {
        out = out.slice(0, limit);
        warnings.push('results truncated due to limit');
      }
      return success(
        out.map((l) => labelsToObject(l)),
        warnings,
      );
    } finally {
      q.close();
    }
  };

  const labelNames = async (req: FastifyRequest) => {
    const p = params(req);
    const sets = matcherSets(all(p, 'match[]', req));
    const [start, end] = timeRange(p);
    const limit = limitParam(p);
    const q = queryable.querier(start, end);
    try {
      const names = new Set<string>();
      if (sets.length === 0) for (const n of q.labelNames()) names.add(n);
      for (const ms of sets) for (const n of q.labelNames(ms)) names.add(n);
      let out = [...names].sort();
      if (limit > 0) out = out.slice(0, limit);
      return success(out);
    } finally {
      q.close();
    }
  };

  const labelValues = async (req: FastifyRequest<{ Params: { name: string } }>) => {
    const name = req.params.name;
    if (!isValidLabelName(name)) throw new ApiError('bad_data', `invalid label name: ${JSON.stringify(name)}`);
    const p = params(req);
    const sets = matcherSets(all(p, 'match[]', req));
    const [start, end] = timeRange(p);
    const limit = limitParam(p);
    const q = queryable.querier(start, end);
    try {
      const values = new Set<string>();
      if (sets.length === 0) for (const v of q.labelValues(name)) values.add(v);
      for (const ms of sets) for (const v of q.labelValues(name, ms)) values.add(v);
      let out = [...values].sort();
      if (limit > 0) out = out.slice(0, limit);
      return success(out);
    } finally {
      q.close();
    }
  };

  const metadata = async (req: FastifyRequest) => {
    const p = params(req);
    const limit = limitParam(p);
    const only = one(p, 'metric');
    const out: Record<string, Array<{ type: string; help: string; unit: string }>> = {};
    const md = headReader?.metadata() ?? new Map();
    for (const [name, m] of [...md.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (only && name !== only) continue;
      if (limit > 0 && Object.keys(out).length >= limit) break;
      out[name] = [{ type: m.type, help: m.help, unit: m.unit }];
    }
    return success(out);
  };

  const exemplars = async (req: FastifyRequest) => {
    const p = params(req);
    const q = one(p, 'query');
    if (q !== undefined) {
      try {
        parseExpr(q);
      } catch (err) {
        throw queryError(err);
      }
    }
    timeRange(p);
    return success([]);
  };

  for (const [path, handler] of [
    ['/api/v1/query', instant],
    ['/api/v1/query_range', range],
    ['/api/v1/series', series],
    ['/api/v1/labels', labelNames],
    ['/api/v1/query_exemplars', exemplars],
    ['/api/v1/metadata', metadata],
  ] as const) {
    app.get(path, handler);
    app.post(path, handler);
  }
  app.get('/api/v1/label/:name/values', labelValues);
  app.get('/api/v1/status/buildinfo', async () => success(buildInfo));
};

/**
 * The query API plugin; register with `app.register(queryApiPlugin, options)`. Routes
 * are absolute (`/api/v1/...`), so register it without a prefix.
 */
export const queryApiPlugin: FastifyPluginAsync<QueryApiPluginOptions> = plugin;
