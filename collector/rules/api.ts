/**
 * HTTP API of the rules engine, in Prometheus's shapes (`web/api/v1/api.go`):
 * `GET /api/v1/rules`, `GET /api/v1/alerts`, plus kubepulse's
 * `GET /api/v1/alerts/history` and, when a reload function is given, `POST /-/reload`.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { labelsToObject } from '../../shared/index.js';
import { ApiError, apiErrorHandler, success } from '../web/api-envelope.js';
import { parseSeriesSelector } from '../promql/index.js';
import { AlertingRule, type ActiveAlert } from './alerting-rule.js';
import type { AlertHistory } from './history.js';
import type { RuleManager } from './manager.js';

export interface RulesApiOptions {
  readonly manager: RuleManager;
  readonly history?: AlertHistory;
  /** Reloads the whole configuration; registers `POST /-/reload` when given. */
  readonly reload?: () => Promise<void> | void;
}

type Params = Record<string, string | string[] | undefined>;

function all(p: Params, k: string): string[] {
  const v = p[k] ?? p[`${k}[]`];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function one(p: Params, k: string): string | undefined {
  return all(p, k)[0];
}

/** RFC 3339 or Unix seconds, as Prometheus accepts. */
export function parseApiTime(name: string, v: string): number {
  if (/^-?\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new ApiError('bad_data', `invalid parameter "${name}": cannot parse "${v}" to a valid timestamp`);
  return ms;
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

/** Prometheus's alert value: `strconv.FormatFloat(v, 'e', -1, 64)`. */
function formatE(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const [m, e] = v.toExponential().split('e');
  const n = Number(e);
  return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
}

function alertJson(a: ActiveAlert) {
  return {
    labels: labelsToObject(a.labels),
    annotations: a.annotations,
    state: a.state,
    activeAt: rfc3339(a.activeAt),
    ...(a.keepFiringSince ? { keepFiringSince: rfc3339(a.keepFiringSince) } : {}),
    value: formatE(a.value),
  };
}

const plugin: FastifyPluginAsync<RulesApiOptions> = async (app, opts) => {
  app.setErrorHandler(apiErrorHandler);
  const { manager } = opts;

  app.get('/api/v1/rules', async (req: FastifyRequest) => {
    const p = req.query as Params;
    const type = one(p, 'type');
    if (type !== undefined && type !== 'alert' && type !== 'record') {
      throw new ApiError('bad_data', `invalid parameter "type": must be "alert" or "record", got ${JSON.stringify(type)}`);
    }
    const names = new Set(all(p, 'rule_name'));
    const groupsF = new Set(all(p, 'rule_group'));
    const files = new Set(all(p, 'file'));
    const excludeAlerts = one(p, 'exclude_alerts') === 'true';
    const groups = [];
    for (const g of manager.groups()) {
      if (groupsF.size && !groupsF.has(g.name)) continue;
      if (files.size && !files.has(g.file)) continue;
      const rules = [];
      for (const r of g.rules) {
        if (names.size && !names.has(r.name)) continue;
        const common = {
          name: r.name,
          query: r.expr,
          labels: r.labels,
          health: r.health,
          lastError: r.lastError || undefined,
          evaluationTime: r.evaluationMs / 1000,
          lastEvaluation: rfc3339(r.lastEvaluation),
        };
        if (r instanceof AlertingRule) {
          if (type === 'record') continue;
          rules.push({
            state: r.state(),
            name: r.name,
            query: r.expr,
            duration: r.forMs / 1000,
            keepFiringFor: r.keepFiringForMs / 1000,
            labels: r.labels,
            annotations: r.annotations,
            ...(excludeAlerts ? {} : { alerts: r.alerts().filter((a) => a.state !== 'inactive').map(alertJson) }),
            health: common.health,
            lastError: common.lastError,
            evaluationTime: common.evaluationTime,
            lastEvaluation: common.lastEvaluation,
            type: 'alerting',
          });
        } else {
          if (type === 'alert') continue;
          rules.push({ ...common, type: 'recording' });
        }
      }
      if ((names.size || type) && !rules.length) continue;
      groups.push({
        name: g.name,
        file: g.file,
        rules,
        interval: g.intervalMs / 1000,
        limit: g.limit,
        evaluationTime: g.evaluationMs / 1000,
        lastEvaluation: rfc3339(g.lastEvaluation),
      });
    }
    return success({ groups });
  });

  app.get('/api/v1/alerts', async () => {
    const alerts = manager
      .alertingRules()
      .flatMap((r) => r.alerts())
      .filter((a) => a.state !== 'inactive')
      .map(alertJson);
    return success({ alerts });
  });

  app.get('/api/v1/alerts/history', async (req: FastifyRequest) => {
    if (!opts.history) throw new ApiError('unavailable', 'alert history is not enabled');
    const p = req.query as Params;
    const start = one(p, 'start');
    const end = one(p, 'end');
    const state = one(p, 'state');
    if (state !== undefined && !['pending', 'firing', 'resolved', 'inactive'].includes(state)) {
      throw new ApiError('bad_data', `invalid parameter "state": must be pending, firing, resolved or inactive, got ${JSON.stringify(state)}`);
    }
    const limitS = one(p, 'limit');
    const limit = limitS === undefined ? 100 : Number(limitS);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ApiError('bad_data', `invalid parameter "limit": must be an integer in 1..1000`);
    const afterS = one(p, 'next');
    const after = afterS === undefined ? undefined : Number(afterS);
    if (after !== undefined && !Number.isInteger(after)) throw new ApiError('bad_data', `invalid parameter "next": ${JSON.stringify(afterS)}`);
    const matchers = [];
    for (const m of all(p, 'match')) {
      try {
        matchers.push(...parseSeriesSelector(m.startsWith('{') ? m : m));
      } catch (err) {
        throw new ApiError('bad_data', `invalid parameter "match[]": ${(err as Error).message}`);
      }
    }
    const r = opts.history.query({
      start: start === undefined ? undefined : parseApiTime('start', start),
      end: end === undefined ? undefined : parseApiTime('end', end),
      state,
      matchers,
      limit,
      after,
    });
    const iso = (x: number | null) => (x === null ? null : rfc3339(x));
    return success({
      episodes: r.episodes.map((e) => ({
        fingerprint: e.fingerprint,
        rule: e.rule,
        labels: e.labels,
        annotations: e.annotations,
        state: e.state,
        pendingAt: iso(e.pendingAt),
        firedAt: iso(e.firedAt),
        resolvedAt: iso(e.resolvedAt),
        lastSeenAt: iso(e.lastSeenAt),
        firstValue: e.firstValue,
        peakValue: e.peakValue,
        lastValue: e.lastValue,
        notifications: e.notifications.map((n) => ({ ...n, t: rfc3339(n.t) })),
      })),
      ...(r.next !== undefined ? { next: String(r.next) } : {}),
    });
  });

  if (opts.reload) {
    const reload = opts.reload;
    app.post('/-/reload', async (_req, reply) => {
      try {
        await reload();
      } catch (err) {
        return reply.code(500).type('text/plain').send(`failed to reload config: ${(err as Error).message}\n`);
      }
      return reply.code(200).type('text/plain').send('');
    });
  }
};

/** Fastify plugin factory: register with {@link RulesApiOptions}. */
export const rulesApiPlugin: FastifyPluginAsync<RulesApiOptions> = plugin;
