/**
 * The rules engine's view of PromQL (Prometheus's `rules.EngineQueryFunc`).
 */
import type { Queryable } from '../storage/index.js';
import type { Expr } from './ast.js';
import type { Engine } from './engine.js';
import { parseExpr } from './parser.js';
import type { Vector } from './value.js';
import { QueryError } from './value.js';

/**
 * Evaluates `expr` as an instant query at `t` (epoch ms). Resolves to an instant vector:
 * `{ labels, t, v }[]` with `t` = the evaluation time; a scalar result becomes one sample
 * with no labels. Rejects with ParseError or QueryError (string or range-vector results
 * are a QueryError of type `execution`).
 */
const PARSE_CACHE_LIMIT = 10_000;

export type QueryFunc = (expr: string, t: number) => Promise<Vector>;

export function engineQueryFunc(engine: Engine, queryable: Queryable): QueryFunc {
  // Rules ask the same expressions every round: parse each once (a tree is never
  // modified by evaluation, and the engine's per-node label caches stay warm with it).
  const parsed = new Map<string, Expr>();
  return async (expr, t) => {
    let e = parsed.get(expr);
    if (!e) {
      e = parseExpr(expr);
      if (parsed.size >= PARSE_CACHE_LIMIT) parsed.clear();
      parsed.set(expr, e);
    }
    const { value } = await engine.instantQuery(queryable, e, t);
    switch (value.resultType) {
      case 'vector':
        return value.result;
      case 'scalar':
        return [{ labels: [], t: value.result.t, v: value.result.v }];
      default:
        throw new QueryError('execution', `rule result is not a vector or scalar: got ${value.resultType}`);
    }
  };
}
