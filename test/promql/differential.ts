/**
 * Differential testing helpers: push one data set to a real Prometheus (remote_write)
 * and to our store, run the same query through both HTTP APIs, compare the answers.
 */
import type { TimeSeries } from '../../shared/index.js';
import { REMOTE_WRITE_CONTENT_TYPE, REMOTE_WRITE_VERSION, encodeWriteRequestBody } from '../../shared/index.js';

/** Pushes series to `url`/api/v1/write in time-ordered slices (Prometheus refuses old samples after newer ones). */
export async function pushToPrometheus(url: string, series: readonly TimeSeries[], sliceMs = 10 * 60_000): Promise<void> {
  let min = Infinity;
  let max = -Infinity;
  for (const s of series) {
    for (const p of s.samples) {
      min = Math.min(min, p.t);
      max = Math.max(max, p.t);
    }
  }
  for (let from = min; from <= max; from += sliceMs) {
    const to = from + sliceMs;
    const ts = series
      .map((s) => ({ labels: s.labels, samples: s.samples.filter((p) => p.t >= from && p.t < to) }))
      .filter((s) => s.samples.length);
    for (let i = 0; i < ts.length; i += 2000) {
      const body = encodeWriteRequestBody({ timeseries: ts.slice(i, i + 2000) });
      const res = await fetch(`${url}/api/v1/write`, {
        method: 'POST',
        headers: {
          'content-type': REMOTE_WRITE_CONTENT_TYPE,
          'content-encoding': 'snappy',
          'x-prometheus-remote-write-version': REMOTE_WRITE_VERSION,
        },
        body,
      });
      if (res.status >= 300) throw new Error(`remote write to Prometheus: ${res.status} ${await res.text()}`);
    }
  }
}

export interface ApiBody {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}

type Point = [number, string];
interface ApiSeries {
  metric: Record<string, string>;
  value?: Point;
  values?: Point[];
}

function key(m: Record<string, string>): string {
  return JSON.stringify(Object.keys(m).sort().map((k) => [k, m[k]]));
}

function sameValue(a: string, b: string, rel: number): boolean {
  if (a === b) return true;
  const x = Number(a);
  const y = Number(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y);
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y;
  const diff = Math.abs(x - y);
  return diff <= rel * Math.max(Math.abs(x), Math.abs(y)) || diff < 1e-12;
}

/**
 * Compares two API answers: error types equal; or result types equal, the same label sets
 * (order ignored), the same timestamps and values within `rel` relative. Returns the first
 * difference, or undefined when they agree.
 */
export function compareAnswers(ours: ApiBody, theirs: ApiBody, rel = 1e-9): string | undefined {
  if (ours.status !== theirs.status) {
    return `status: ours ${ours.status} (${ours.error ?? ''}), Prometheus ${theirs.status} (${theirs.error ?? ''})`;
  }
  if (ours.status === 'error') {
    return ours.errorType === theirs.errorType ? undefined : `errorType: ours ${ours.errorType} (${ours.error}), Prometheus ${theirs.errorType} (${theirs.error})`;
  }
  const a = ours.data!;
  const b = theirs.data!;
  if (a.resultType !== b.resultType) return `resultType: ours ${a.resultType}, Prometheus ${b.resultType}`;
  if (a.resultType === 'scalar' || a.resultType === 'string') {
    const [ta, va] = a.result as Point;
    const [tb, vb] = b.result as Point;
    return ta === tb && sameValue(va, vb, rel) ? undefined : `scalar: ours ${va}@${ta}, Prometheus ${vb}@${tb}`;
  }
  const ra = a.result as ApiSeries[];
  const rb = b.result as ApiSeries[];
  const mb = new Map(rb.map((s) => [key(s.metric), s]));
  if (ra.length !== rb.length || ra.some((s) => !mb.has(key(s.metric)))) {
    const ka = ra.map((s) => key(s.metric)).sort();
    const kb = rb.map((s) => key(s.metric)).sort();
    const onlyA = ka.filter((k) => !kb.includes(k)).slice(0, 3);
    const onlyB = kb.filter((k) => !ka.includes(k)).slice(0, 3);
    return `series: ours ${ra.length}, Prometheus ${rb.length}; only ours ${onlyA.join(' ')}; only Prometheus ${onlyB.join(' ')}`;
  }
  for (const s of ra) {
    const o = mb.get(key(s.metric))!;
    const pa = s.values ?? [s.value!];
    const pb = o.values ?? [o.value!];
    if (pa.length !== pb.length) return `${key(s.metric)}: ours ${pa.length} points, Prometheus ${pb.length}`;
    for (let i = 0; i < pa.length; i++) {
      if (pa[i][0] !== pb[i][0] || !sameValue(pa[i][1], pb[i][1], rel)) {
        return `${key(s.metric)} point ${i}: ours ${pa[i][1]}@${pa[i][0]}, Prometheus ${pb[i][1]}@${pb[i][0]}`;
      }
    }
  }
  return undefined;
}

/** Queries over every function and operator, on the generic `kp_*` metrics. */
export const GENERATED_QUERIES: readonly string[] = [
  // selectors, offset, @, lookback, staleness
  'kp_gauge',
  'kp_gauge offset 5m',
  'kp_gauge offset -2m',
  'kp_gauge @ end()',
  'kp_gauge @ start()',
  'kp_stale',
  'kp_counter_total{mode=~"id.*|sys.*"}',
  'kp_counter_total{mode!~"idle"}',
  '{__name__=~"kp_(gauge|other)"}',
  'kp_gauge[5m]',
  'kp_counter_total[2m] offset 1m',
  // range functions
  ...[
    'rate',
    'irate',
    'increase',
    'delta',
    'idelta',
    'deriv',
    'resets',
    'changes',
    'avg_over_time',
    'min_over_time',
    'max_over_time',
    'sum_over_time',
    'count_over_time',
    'stddev_over_time',
    'stdvar_over_time',
    'last_over_time',
    'present_over_time',
  ].flatMap((f) => [`${f}(kp_counter_total[5m])`, `${f}(kp_gauge[3m])`]),
  'absent_over_time(kp_gauge[5m])',
  'absent_over_time(kp_nonexistent{job="a"}[5m])',
  'quantile_over_time(0.9, kp_gauge[10m])',
  'quantile_over_time(1.5, kp_gauge[10m])',
  'predict_linear(kp_counter_total[10m], 3600)',
  'holt_winters(kp_gauge[10m], 0.5, 0.5)',
  'rate(kp_counter_total[5m] @ end())',
  // instant functions
  ...['abs', 'ceil', 'floor', 'exp', 'ln', 'log2', 'log10', 'sqrt', 'sgn', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'tanh', 'asinh', 'acosh', 'atanh', 'deg', 'rad'].map(
    (f) => `${f}(kp_gauge - 50)`,
  ),
  'round(kp_gauge)',
  'round(kp_gauge, 5)',
  'clamp(kp_gauge, 20, 60)',
  'clamp(kp_gauge, 60, 20)',
  'clamp_min(kp_gauge, 50)',
  'clamp_max(kp_gauge, 50)',
  'timestamp(kp_gauge)',
  'timestamp(kp_gauge offset 1m)',
  'time()',
  'vector(time())',
  'scalar(sum(kp_gauge))',
  'scalar(kp_gauge)',
  'pi()',
  'year()',
  'month(vector(1700000000))',
  'day_of_month()',
  'day_of_week()',
  'days_in_month(vector(1709251200))',
  'hour()',
  'minute(kp_gauge * 1e6)',
  'absent(kp_gauge)',
  'absent(kp_nonexistent{job="x", instance=~"y"})',
  'sort(kp_gauge)',
  'sort_desc(kp_gauge)',
  'label_replace(kp_gauge, "host", "$1", "instance", "([^:]+):.*")',
  'label_replace(kp_gauge, "x", "${1}-y", "node", "node-(.*)")',
  'label_join(kp_gauge, "combo", "/", "node", "instance")',
  'histogram_quantile(0.9, rate(kp_hist_bucket[5m]))',
  'histogram_quantile(0.5, sum by (le) (rate(kp_hist_bucket[5m])))',
  'histogram_quantile(1, kp_hist_bucket)',
  // aggregations
  ...['sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar'].flatMap((a) => [
    `${a}(kp_counter_total)`,
    `${a} by (mode) (rate(kp_counter_total[5m]))`,
    `${a} without (mode) (kp_counter_total)`,
  ]),
  'topk(2, kp_gauge)',
  'bottomk by (mode) (1, kp_counter_total)',
  'quantile(0.3, kp_gauge)',
  'quantile by (mode) (0.75, kp_counter_total)',
  'count_values("value", round(kp_gauge / 10))',
  'count_values by (node) ("v", kp_hist_bucket > 0)',
  // binary operators
  'kp_gauge + kp_other',
  'kp_gauge - on(node, instance, job) kp_other',
  'kp_gauge * ignoring(mode) group_left kp_counter_total',
  'kp_counter_total / ignoring(mode) group_left kp_gauge',
  'kp_gauge / on(node) group_right(mode) kp_counter_total',
  'kp_gauge % 7',
  '2 ^ (kp_gauge / 50)',
  'kp_gauge > 50',
  '50 < kp_gauge',
  'kp_gauge >= bool 50',
  'kp_gauge == bool kp_other',
  'kp_gauge != kp_other',
  'kp_gauge <= on(node) kp_other',
  'kp_gauge and kp_other > 50',
  'kp_gauge or kp_counter_total',
  'kp_gauge unless on(node) kp_other > 50',
  'kp_counter_total + on(job) kp_gauge',
  'kp_counter_total + kp_gauge',
  'sum(kp_gauge) + 1',
  '-kp_gauge',
  '1 + 2 * 3 ^ 2',
  '-2 ^ 2',
  '1 > bool 2',
  'kp_gauge atan2 kp_other',
  // subqueries
  'max_over_time(rate(kp_counter_total[5m])[30m:1m])',
  'avg_over_time(kp_gauge[10m:])',
  'rate(kp_counter_total[5m])[10m:2m]',
  'min_over_time(sum(kp_gauge)[15m:5m] offset 5m)',
  'deriv(kp_gauge[10m:30s])',
  // edges: staleness inside ranges, window boundaries, NaN parameters, division by zero
  'rate(kp_stale[5m])',
  'last_over_time(kp_stale[30m])',
  'changes(kp_stale[1h])',
  'kp_stale offset 30m',
  'rate(kp_counter_total[1m])',
  'irate(kp_counter_total[30s])',
  'count_over_time(kp_gauge[1m:15s])',
  'sum_over_time(kp_gauge[2m:1m] @ start())',
  'predict_linear(kp_gauge[5m:1m], 60)',
  'idelta(kp_gauge[5m:1m])',
  'quantile(NaN, kp_gauge)',
  'histogram_quantile(NaN, kp_hist_bucket)',
  'histogram_quantile(-1, kp_hist_bucket)',
  'label_replace(kp_gauge, "node", "", "node", ".*")',
  'absent(kp_nonexistent{a="b", a="c"})',
  'vector(1) + on() group_left kp_gauge',
  'kp_gauge and on() vector(1)',
  '-kp_counter_total offset 5m @ 1735732800',
  'sort(-kp_gauge)',
  'round(kp_gauge, 0.3)',
  'kp_gauge / 0',
  'kp_gauge % 0',
  '(0 / 0) == bool (0 / 0)',
  'topk(1.9, kp_gauge)',
  'bottomk(0, kp_gauge)',
  'count_values without (node) ("v", kp_gauge > 1000)',
  'stddev_over_time(kp_hist_bucket[10m])',
  'max by (le) (kp_hist_bucket) / ignoring(le) group_left sum(kp_hist_bucket)',
  'max_over_time(rate(kp_counter_total[2m])[20m:45s] offset 2m)',
  'avg_over_time(max_over_time(kp_gauge[3m:1m])[10m:2m])',
  'sum_over_time(kp_gauge[10m:1m] @ end())',
  'min_over_time((kp_gauge @ start())[10m:1m])',
  'timestamp(kp_gauge[5m:1m] @ 1735732000)',
  'absent_over_time(kp_nonexistent[5m:1m])',
  'holt_winters(kp_gauge[10m:1m], 0.1, 0.9)',
  'quantile_over_time(0.5, kp_gauge[7m:1m])',
  'rate(kp_counter_total[5m:30s])',
  'changes(kp_gauge[1h:1m])',
  // errors
  'sum(',
  'rate(kp_gauge)',
  'kp_gauge{',
  'nonexistent_function(kp_gauge)',
  'label_replace(kp_gauge, "0bad", "", "node", "(.*)")',
  'ceil({__name__=~"kp_gauge|kp_other"})',
  'sum(kp_gauge) by (node) + on() group_left sum(kp_gauge) by (node)',
];
