/**
 * The JSON shapes of query results in the Prometheus HTTP API: values as strings
 * (Go's 'f' formatting, `NaN`, `+Inf`), timestamps as float seconds.
 */
import type { Labels } from '../../../shared/index.js';
import { labelsToObject } from '../../../shared/index.js';
import type { QueryValue } from '../../promql/index.js';
import { formatFloat } from '../../promql/index.js';

export type ApiPoint = [number, string];

export type ApiQueryData =
  | { resultType: 'vector'; result: Array<{ metric: Record<string, string>; value: ApiPoint }> }
  | { resultType: 'matrix'; result: Array<{ metric: Record<string, string>; values: ApiPoint[] }> }
  | { resultType: 'scalar' | 'string'; result: ApiPoint };

function metric(ls: Labels): Record<string, string> {
  return labelsToObject(ls);
}

export function encodeQueryValue(v: QueryValue): ApiQueryData {
  switch (v.resultType) {
    case 'vector':
      return { resultType: 'vector', result: v.result.map((s) => ({ metric: metric(s.labels), value: [s.t / 1000, formatFloat(s.v)] })) };
    case 'matrix':
      return {
        resultType: 'matrix',
        result: v.result.map((s) => ({ metric: metric(s.labels), values: s.t.map((t, i): ApiPoint => [t / 1000, formatFloat(s.v[i])]) })),
      };
    case 'scalar':
      return { resultType: 'scalar', result: [v.result.t / 1000, formatFloat(v.result.v)] };
    case 'string':
      return { resultType: 'string', result: [v.result.t / 1000, v.result.v] };
  }
}
