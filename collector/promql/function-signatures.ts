/**
 * Argument and return types of every function the engine implements, as in Prometheus
 * 2.42's `promql/parser/functions.go`. `variadic`: 0 = exactly `args`; otherwise the last
 * declared argument is optional and may repeat up to `variadic` times (-1: unbounded).
 */
import type { ValueType } from './ast.js';

export interface FunctionSignature {
  readonly args: readonly ValueType[];
  readonly variadic: number;
  readonly returns: ValueType;
}

const V = 'vector';
const M = 'matrix';
const S = 'scalar';
const STR = 'string';

function sig(args: ValueType[], returns: ValueType = V, variadic = 0): FunctionSignature {
  return { args, returns, variadic };
}

const simpleVector = [
  'abs',
  'ceil',
  'floor',
  'exp',
  'ln',
  'log2',
  'log10',
  'sqrt',
  'sgn',
  'acos',
  'acosh',
  'asin',
  'asinh',
  'atan',
  'atanh',
  'cos',
  'cosh',
  'sin',
  'sinh',
  'tan',
  'tanh',
  'deg',
  'rad',
  'timestamp',
  'sort',
  'sort_desc',
  'absent',
];
const overTime = [
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'sum_over_time',
  'count_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'last_over_time',
  'present_over_time',
  'absent_over_time',
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'deriv',
  'resets',
  'changes',
];
const dateFns = ['days_in_month', 'day_of_month', 'day_of_week', 'day_of_year', 'hour', 'minute', 'month', 'year'];

export const FUNCTIONS: ReadonlyMap<string, FunctionSignature> = new Map<string, FunctionSignature>([
  ...simpleVector.map((n): [string, FunctionSignature] => [n, sig([V])]),
  ...overTime.map((n): [string, FunctionSignature] => [n, sig([M])]),
  ...dateFns.map((n): [string, FunctionSignature] => [n, sig([V], V, 1)]),
  ['clamp', sig([V, S, S])],
  ['clamp_max', sig([V, S])],
  ['clamp_min', sig([V, S])],
  ['round', sig([V, S], V, 1)],
  ['histogram_quantile', sig([S, V])],
  ['holt_winters', sig([M, S, S])],
  ['predict_linear', sig([M, S])],
  ['quantile_over_time', sig([S, M])],
  ['label_replace', sig([V, STR, STR, STR, STR])],
  ['label_join', sig([V, STR, STR, STR], V, -1)],
  ['scalar', sig([V], S)],
  ['vector', sig([S])],
  ['time', sig([], S)],
  ['pi', sig([], S)],
]);

/**
 * Functions that exist in newer Prometheus releases or only behind
 * `--enable-feature=promql-experimental-functions`; the parser names the reason.
 */
export const UNSUPPORTED_FUNCTIONS: ReadonlyMap<string, string> = new Map([
  ['sort_by_label', 'experimental function (promql-experimental-functions)'],
  ['sort_by_label_desc', 'experimental function (promql-experimental-functions)'],
  ['double_exponential_smoothing', 'experimental function (promql-experimental-functions)'],
  ['mad_over_time', 'experimental function (promql-experimental-functions)'],
  ['first_over_time', 'experimental function (promql-experimental-functions)'],
  ['ts_of_first_over_time', 'experimental function (promql-experimental-functions)'],
  ['ts_of_last_over_time', 'experimental function (promql-experimental-functions)'],
  ['ts_of_max_over_time', 'experimental function (promql-experimental-functions)'],
  ['ts_of_min_over_time', 'experimental function (promql-experimental-functions)'],
  ['info', 'experimental function (promql-experimental-functions)'],
  ['histogram_count', 'native histograms are not supported'],
  ['histogram_sum', 'native histograms are not supported'],
  ['histogram_avg', 'native histograms are not supported'],
  ['histogram_fraction', 'native histograms are not supported'],
  ['histogram_stddev', 'native histograms are not supported'],
  ['histogram_stdvar', 'native histograms are not supported'],
  ['histogram_quantiles', 'native histograms are not supported'],
  ['start', 'duration expressions are not supported'],
  ['end', 'duration expressions are not supported'],
  ['range', 'duration expressions are not supported'],
  ['min_of', 'duration expressions are not supported'],
  ['max_of', 'duration expressions are not supported'],
  ['step', 'duration expressions are not supported'],
  ['start_timestamp', 'start timestamps are not supported'],
]);
