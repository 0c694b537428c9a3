/**
 * Silences over HTTP: `GET/POST /api/v1/silences`, `GET/DELETE /api/v1/silences/:id`, in
 * the Prometheus envelope. Matchers take Alertmanager v2's form
 * (`{name, value, isRegex, isEqual}`) or its string form (`severity=~"warn|crit"`).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ApiError, apiErrorHandler, success } from '../web/api-envelope.js';
import { MatcherError, parseMatcher } from './matchers.js';
import type { Notifier } from './notifier.js';
import { SilenceError, type Silence } from './silences.js';

export interface SilencesApiOptions {
  readonly notifier: Notifier;
  readonly now?: () => number;
}

interface SilenceBody {
  id?: string;
  matchers?: Array<string | { name: string; value: string; isRegex?: boolean; isEqual?: boolean }>;
  startsAt?: string | number;
  endsAt?: string | number;
  createdBy?: string;
  comment?: string;
}

function time(name: string, v: string | number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return Math.round(v * 1000);
  const ms = /^-?\d+(\.\d+)?$/.test(v) ? Math.round(Number(v) * 1000) : Date.parse(v);
  if (Number.isNaN(ms)) throw new ApiError('bad_data', `invalid ${name}: cannot parse ${JSON.stringify(v)} as a time`);
  return ms;
}

function json(s: Silence) {
  return {
    id: s.id,
    matchers: s.matchers,
    startsAt: new Date(s.startsAt).toISOString(),
    endsAt: new Date(s.endsAt).toISOString(),
    updatedAt: new Date(s.updatedAt).toISOString(),
    createdBy: s.createdBy,
    comment: s.comment,
    status: { state: s.state },
  };
}

const plugin: FastifyPluginAsync<SilencesApiOptions> = async (app, opts) => {
  app.setErrorHandler(apiErrorHandler);
  const now = opts.now ?? Date.now;
  const sil = opts.notifier.silences;

  app.get('/api/v1/silences', async () => success(sil.list(now()).map(json)));

  app.get('/api/v1/silences/:id', async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const s = sil.get(req.params.id, now());
    if (!s) throw new ApiError('not_found', `silence ${req.params.id} not found`);
    return success(json(s));
  });

  app.post('/api/v1/silences', async (req: FastifyRequest<{ Body: SilenceBody }>) => {
    const b = req.body;
    if (!b || typeof b !== 'object') throw new ApiError('bad_data', 'body must be a JSON silence');
    let matchers;
    try {
      matchers = (b.matchers ?? []).map((m) => {
        if (typeof m === 'string') {
          const p = parseMatcher(m);
          return { name: p.name, value: p.value, isRegex: p.type === '=~' || p.type === '!~', isEqual: p.type === '=' || p.type === '=~' };
        }
        return { name: m.name, value: m.value, isRegex: Boolean(m.isRegex), isEqual: m.isEqual ?? true };
      });
    } catch (err) {
      if (err instanceof MatcherError) throw new ApiError('bad_data', err.message);
      throw err;
    }
    try {
      const id = sil.put(
        { id: b.id, matchers, startsAt: time('startsAt', b.startsAt), endsAt: time('endsAt', b.endsAt), createdBy: b.createdBy, comment: b.comment },
        now(),
      );
      return success({ silenceID: id });
    } catch (err) {
      if (err instanceof SilenceError) throw new ApiError(/not found/.test(err.message) ? 'not_found' : 'bad_data', err.message);
      throw err;
    }
  });

  app.delete('/api/v1/silences/:id', async (req: FastifyRequest<{ Params: { id: string } }>) => {
    try {
      sil.expire(req.params.id, now());
    } catch (err) {
      if (err instanceof SilenceError) throw new ApiError(/not found/.test(err.message) ? 'not_found' : 'bad_data', err.message);
      throw err;
    }
    return success(null);
  });
};

/** Fastify plugin factory: register with {@link SilencesApiOptions}. */
export const silencesApiPlugin: FastifyPluginAsync<SilencesApiOptions> = plugin;
