/**
 * Values the engine produces and the errors it raises, with Prometheus's error types.
 */
import type { Labels } from '../../shared/index.js';
import { KubepulseError } from '../../shared/index.js';

/** One element of an instant vector: `t` is the evaluation time (ms), as Prometheus reports it. */
export interface Sample {
  readonly labels: Labels;
  readonly t: number;
  readonly v: number;
}

/** An instant vector: at most one sample per label set. Also the rules engine's `QueryFunc` result. */
export type Vector = Sample[];

/** One series of a range vector or of a range query result; `t` ascending, ms. */
export interface RangeSeries {
  readonly labels: Labels;
  readonly t: number[];
  readonly v: number[];
}

export type Matrix = RangeSeries[];

/** The result of a query, tagged as the HTTP API's `resultType`. */
export type QueryValue =
  | { readonly resultType: 'vector'; readonly result: Vector }
  | { readonly resultType: 'matrix'; readonly result: Matrix }
  | { readonly resultType: 'scalar'; readonly result: { readonly t: number; readonly v: number } }
  | { readonly resultType: 'string'; readonly result: { readonly t: number; readonly v: string } };

export interface QueryResult {
  readonly value: QueryValue;
  /** Non-fatal problems (Prometheus's annotations), as the API's `warnings`. */
  readonly warnings: readonly string[];
  /** Samples the query loaded plus points it produced (what `maxSamples` limits). */
  readonly samples: number;
}

/** Prometheus's query error types (`promql.Err*` mapped by `web/api/v1`). */
export const QueryErrorType = {
  BAD_DATA: 'bad_data',
  EXECUTION: 'execution',
  TIMEOUT: 'timeout',
  CANCELED: 'canceled',
  INTERNAL: 'internal',
} as const;
export type QueryErrorType = (typeof QueryErrorType)[keyof typeof QueryErrorType];

/** A query that failed during evaluation; `errorType` is what the HTTP API reports. */
export class QueryError extends KubepulseError {
  readonly errorType: QueryErrorType;
  constructor(errorType: QueryErrorType, message: string, options?: ErrorOptions) {
    super(`KP_ERR_PROMQL_${errorType.toUpperCase()}`, message, options);
    this.errorType = errorType;
  }
}

/** Prometheus's `ErrQueryTimeout`. */
export function timeoutError(where: string): QueryError {
  return new QueryError('timeout', `query timed out in ${where}`);
}

/** Prometheus's `ErrTooManySamples`. */
export function tooManySamplesError(where: string): QueryError {
  return new QueryError('execution', `query processing would load too many samples into memory in ${where}`);
}

/** Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, never an exponent. */
export function formatFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Object.is(v, -0)) return '-0';
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const neg = s[0] === '-';
  const mant = s.slice(neg ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mant.indexOf('.');
  const digits = mant.replace('.', '');
  const intLen = (dot < 0 ? mant.length : dot) + exp;
  let out: string;
  if (intLen <= 0) out = '0.' + '0'.repeat(-intLen) + digits;
  else if (intLen >= digits.length) out = digits + '0'.repeat(intLen - digits.length);
  else out = digits.slice(0, intLen) + '.' + digits.slice(intLen);
  return (neg ? '-' : '') + out;
}
