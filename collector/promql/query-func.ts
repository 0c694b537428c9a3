/**
 * The rules engine's view of PromQL (Prometheus's `rules.EngineQueryFunc`).
 */
import type { Queryable } from '../storage/index.js';
import type { Engine } from './engine.js';
import type { Vector } from './value.js';
import { QueryError } from './value.js';

/**
 * Evaluates `expr` as an instant query at `t` (epoch ms). Resolves to an instant vector:
 * `{ labels, t, v }[]` with `t` = the evaluation time; a scalar result becomes one sample
 * with no labels. Rejects with ParseError or QueryError (string or range-vector results
 * are a QueryError of type `execution`).
 */
export type QueryFunc = (expr: string, t: number) => Promise<Vector>;

export function engineQueryFunc(engine: Engine, queryable: Queryable): QueryFunc {
  return async (expr, t) => {
    const { value } = await engine.instantQuery(queryable, expr, t);
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
