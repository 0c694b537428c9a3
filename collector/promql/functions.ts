/**
 * PromQL function bodies (Prometheus's `promql/functions.go`). The engine selects the
 * arguments; these compute values. Range functions see one series' window of float
 * samples (stale markers already removed).
 */
import type { Label, Labels } from '../../shared/index.js';
import { METRIC_NAME, getLabel, isValidLabelName, withLabel } from '../../shared/index.js';
import type { Vector, Sample } from './value.js';
import { QueryError } from './value.js';
import { re2ToJs } from './regex.js';
import { keyOf, memoLabels } from './label-cache.js';

/** Samples [lo, hi) of one series inside a range window. */
export interface Window {
  readonly t: ArrayLike<number>;
  readonly v: ArrayLike<number>;
  readonly lo: number;
  readonly hi: number;
}

/** Bounds of the window a range function looks at, ms (Prometheus's rangeStart/rangeEnd). */
export interface RangeInfo {
  readonly rangeStart: number;
  readonly rangeEnd: number;
  readonly rangeMs: number;
  /** The step's evaluation time (before offset/@), ms: predict_linear's intercept. */
  readonly evalT: number;
  /** Prometheus 3.x rules: extrapolation threshold applied before the zero cut-off. */
  readonly v3: boolean;
}

/** Returns the output value, or undefined for "no sample for this series". */
export type RangeFn = (w: Window, r: RangeInfo, scalars: readonly number[]) => number | undefined;

/** Neumaier-compensated summation step: returns the new sum; `c` carries the compensation. */
export function kahanSumInc(inc: number, sum: number, c: { c: number }): number {
  const t = sum + inc;
  if (Math.abs(sum) >= Math.abs(inc)) c.c += sum - t + inc;
  else c.c += inc - t + sum;
  return t;
}

function extrapolatedRate(w: Window, r: RangeInfo, isCounter: boolean, isRate: boolean): number | undefined {
  const n = w.hi - w.lo;
  if (n < 2) return undefined;
  const { t, v, lo, hi } = w;
  const first = v[lo];
  const last = v[hi - 1];
  let result = last - first;
  if (isCounter) {
    let prev = first;
    for (let i = lo + 1; i < hi; i++) {
      if (v[i] < prev) result += prev;
      prev = v[i];
    }
  }
  let durationToStart = (t[lo] - r.rangeStart) / 1000;
  let durationToEnd = (r.rangeEnd - t[hi - 1]) / 1000;
  const sampledInterval = (t[hi - 1] - t[lo]) / 1000;
  const avgBetween = sampledInterval / (n - 1);
  if (r.v3) {
    // Prometheus 3.x: cap at half a sample interval first, then cut off at the zero point.
    const threshold = avgBetween * 1.1;
    if (durationToStart >= threshold) durationToStart = avgBetween / 2;
    if (isCounter && result > 0 && first >= 0) {
      const durationToZero = sampledInterval * (first / result);
      if (durationToZero < durationToStart) durationToStart = durationToZero;
    }
    if (durationToEnd >= threshold) durationToEnd = avgBetween / 2;
    result *= (sampledInterval + durationToStart + durationToEnd) / sampledInterval;
    return isRate ? result / (r.rangeMs / 1000) : result;
  }
  if (isCounter && result > 0 && first >= 0) {
    const durationToZero = sampledInterval * (first / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  const threshold = avgBetween * 1.1;
  let interval = sampledInterval;
  interval += durationToStart < threshold ? durationToStart : avgBetween / 2;
  interval += durationToEnd < threshold ? durationToEnd : avgBetween / 2;
  result = result * (interval / sampledInterval);
  if (isRate) result /= r.rangeMs / 1000;
  return result;
}

function instantValue(w: Window, isRate: boolean): number | undefined {
  if (w.hi - w.lo < 2) return undefined;
  const i = w.hi - 1;
  const last = w.v[i];
  const prev = w.v[i - 1];
  let result = isRate && last < prev ? last : last - prev;
  const interval = w.t[i] - w.t[i - 1];
  if (interval === 0) return undefined;
  if (isRate) result /= interval / 1000;
  return result;
}

/** Least-squares fit of the window; x is seconds relative to `interceptTime`. */
function linearRegression(w: Window, interceptTime: number): [number, number] {
  let n = 0;
  let sumX = 0;
  let sumY = 0;
  let sumXY = 0;
  let sumX2 = 0;
  const cX = { c: 0 };
  const cY = { c: 0 };
  const cXY = { c: 0 };
  const cX2 = { c: 0 };
  const initY = w.v[w.lo];
  let constY = true;
  for (let i = w.lo; i < w.hi; i++) {
    const y = w.v[i];
    if (constY && i > w.lo && y !== initY) constY = false;
    n++;
    const x = (w.t[i] - interceptTime) / 1000;
    sumX = kahanSumInc(x, sumX, cX);
    sumY = kahanSumInc(y, sumY, cY);
    sumXY = kahanSumInc(x * y, sumXY, cXY);
    sumX2 = kahanSumInc(x * x, sumX2, cX2);
  }
  if (constY) {
    if (!Number.isFinite(initY) && !Number.isNaN(initY)) return [NaN, NaN];
    return [0, initY];
  }
  sumX += cX.c;
  sumY += cY.c;
  sumXY += cXY.c;
  sumX2 += cX2.c;
  const covXY = sumXY - (sumX * sumY) / n;
  const varX = sumX2 - (sumX * sumX) / n;
  const slope = covXY / varX;
  const intercept = sumY / n - (slope * sumX) / n;
  return [slope, intercept];
}

/** Mean with Kahan summation, falling back to an incremental mean when the sum overflows. */
export function mean(values: ArrayLike<number>, lo = 0, hi = values.length): number {
  let sum = 0;
  const c = { c: 0 };
  const n = hi - lo;
  let inf = false;
  for (let i = lo; i < hi; i++) {
    const v = values[i];
    if (v === Infinity || v === -Infinity) inf = true;
    sum = kahanSumInc(v, sum, c);
  }
  if (Number.isFinite(sum)) return (sum + c.c) / n;
  // NaN and genuine infinities are the answer; an overflow of finite values is not.
  if (Number.isNaN(sum) || inf) return sum;
  return incrementalMean(values, lo, hi);
}

function incrementalMean(values: ArrayLike<number>, lo: number, hi: number): number {
  let m = 0;
  let count = 0;
  const c = { c: 0 };
  for (let i = lo; i < hi; i++) {
    const v = values[i];
    count++;
    if (!Number.isFinite(m) && !Number.isNaN(m)) {
      if (!Number.isFinite(v) && !Number.isNaN(v) && m > 0 === v > 0) continue;
      if (Number.isFinite(v)) continue;
    }
    m = kahanSumInc(v / count - m / count, m, c);
  }
  if (!Number.isFinite(m)) return m;
  return m + c.c;
}

/** Population variance with Welford's method and Kahan compensation. */
export function variance(values: ArrayLike<number>, lo = 0, hi = values.length): number {
  let count = 0;
  let m = 0;
  let aux = 0;
  const cMean = { c: 0 };
  const cAux = { c: 0 };
  for (let i = lo; i < hi; i++) {
    const v = values[i];
    count++;
    const delta = v - (m + cMean.c);
    m = kahanSumInc(delta / count, m, cMean);
    aux = kahanSumInc(delta * (v - (m + cMean.c)), aux, cAux);
  }
  return (aux + cAux.c) / count;
}

/** Prometheus's `quantile`: linear interpolation between closest ranks; NaNs sort first. */
export function quantile(q: number, values: number[]): number {
  if (values.length === 0 || Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  values.sort((a, b) => (Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : Number.isNaN(b) ? 1 : a - b));
  const n = values.length;
  const rank = q * (n - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(n - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return values[lower] * (1 - weight) + values[upper] * weight;
}

function slice(w: Window): number[] {
  const out: number[] = [];
  for (let i = w.lo; i < w.hi; i++) out.push(w.v[i]);
  return out;
}

export const RANGE_FUNCTIONS: Readonly<Record<string, RangeFn>> = {
  rate: (w, r) => extrapolatedRate(w, r, true, true),
  increase: (w, r) => extrapolatedRate(w, r, true, false),
  delta: (w, r) => extrapolatedRate(w, r, false, false),
  irate: (w) => instantValue(w, true),
  idelta: (w) => instantValue(w, false),
  deriv: (w) => (w.hi - w.lo < 2 ? undefined : linearRegression(w, w.t[w.lo])[0]),
  predict_linear: (w, r, s) => {
    if (w.hi - w.lo < 2) return undefined;
    const [slope, intercept] = linearRegression(w, r.evalT);
    return slope * s[0] + intercept;
  },
  resets: (w) => {
    let n = 0;
    for (let i = w.lo + 1; i < w.hi; i++) if (w.v[i] < w.v[i - 1]) n++;
    return n;
  },
  changes: (w) => {
    let n = 0;
    for (let i = w.lo + 1; i < w.hi; i++) {
      const a = w.v[i - 1];
      const b = w.v[i];
      if (a !== b && !(Number.isNaN(a) && Number.isNaN(b))) n++;
    }
    return n;
  },
  avg_over_time: (w) => mean(w.v, w.lo, w.hi),
  sum_over_time: (w) => {
    let s = 0;
    const c = { c: 0 };
    for (let i = w.lo; i < w.hi; i++) s = kahanSumInc(w.v[i], s, c);
    return Number.isFinite(s) ? s + c.c : s;
  },
  count_over_time: (w) => w.hi - w.lo,
  min_over_time: (w) => {
    let m = w.v[w.lo];
    for (let i = w.lo + 1; i < w.hi; i++) if (w.v[i] < m || Number.isNaN(m)) m = w.v[i];
    return m;
  },
  max_over_time: (w) => {
    let m = w.v[w.lo];
    for (let i = w.lo + 1; i < w.hi; i++) if (w.v[i] > m || Number.isNaN(m)) m = w.v[i];
    return m;
  },
  stddev_over_time: (w) => Math.sqrt(variance(w.v, w.lo, w.hi)),
  stdvar_over_time: (w) => variance(w.v, w.lo, w.hi),
  last_over_time: (w) => w.v[w.hi - 1],
  present_over_time: () => 1,
  quantile_over_time: (w, _r, s) => quantile(s[0], slice(w)),
  holt_winters: (w, _r, s) => {
    const [sf, tf] = s;
    if (!(sf > 0 && sf < 1)) throw new QueryError('execution', `invalid smoothing factor. Expected: 0 < sf < 1, got: ${sf}`);
    if (!(tf > 0 && tf < 1)) throw new QueryError('execution', `invalid trend factor. Expected: 0 < tf < 1, got: ${tf}`);
    const n = w.hi - w.lo;
    if (n < 2) return undefined;
    let s0 = 0;
    let s1 = w.v[w.lo];
    let b = w.v[w.lo + 1] - w.v[w.lo];
    for (let i = 1; i < n; i++) {
      const x = sf * w.v[w.lo + i];
      if (i - 1 > 0) b = tf * (s1 - s0) + (1 - tf) * b;
      const y = (1 - sf) * (s1 + b);
      s0 = s1;
      s1 = x + y;
    }
    return s1;
  },
};

const MATH: Readonly<Record<string, (v: number) => number>> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  exp: Math.exp,
  ln: Math.log,
  log2: Math.log2,
  log10: Math.log10,
  sqrt: Math.sqrt,
  sgn: (v) => (v > 0 ? 1 : v < 0 ? -1 : v),
  acos: Math.acos,
  acosh: Math.acosh,
  asin: Math.asin,
  asinh: Math.asinh,
  atan: Math.atan,
  atanh: Math.atanh,
  cos: Math.cos,
  cosh: Math.cosh,
  sin: Math.sin,
  sinh: Math.sinh,
  tan: Math.tan,
  tanh: Math.tanh,
  deg: (v) => (v * 180) / Math.PI,
  rad: (v) => (v * Math.PI) / 180,
};

function dateFn(f: (d: Date) => number): (v: number) => number {
  return (v) => {
    if (!Number.isFinite(v)) return NaN;
    return f(new Date(Math.trunc(v) * 1000));
  };
}

const DATE: Readonly<Record<string, (v: number) => number>> = {
  days_in_month: dateFn((d) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate()),
  day_of_month: dateFn((d) => d.getUTCDate()),
  day_of_week: dateFn((d) => d.getUTCDay()),
  day_of_year: dateFn((d) => Math.round((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1),
  hour: dateFn((d) => d.getUTCHours()),
  minute: dateFn((d) => d.getUTCMinutes()),
  month: dateFn((d) => d.getUTCMonth() + 1),
  year: dateFn((d) => d.getUTCFullYear()),
};

/** Element-wise functions that drop the metric name; undefined for other names. */
export function elementFunction(name: string): ((v: number) => number) | undefined {
  return MATH[name] ?? DATE[name];
}

export function isDateFunction(name: string): boolean {
  return name in DATE;
}

/** Removes `__name__` (memoised: the same input array gives the same output array). */
export const dropName: (ls: Labels) => Labels = memoLabels((ls) => {
  for (let i = 0; i < ls.length; i++) {
    if (ls[i].name === METRIC_NAME) return ls.slice(0, i).concat(ls.slice(i + 1));
  }
  return ls;
});

const withoutLeAndName = memoLabels((ls) => ls.filter((l: Label) => l.name !== 'le' && l.name !== METRIC_NAME));

/** Throws Prometheus's error when two samples share a label set. */
export function checkDuplicates(vec: Vector): void {
  if (vec.length < 2) return;
  const seen = new Set<string>();
  for (const s of vec) {
    const k = keyOf(s.labels);
    if (seen.has(k)) throw new QueryError('execution', 'vector cannot contain metrics with the same labelset');
    seen.add(k);
  }
}

/** A fully anchored Go (RE2) regular expression as a JS RegExp. */
function goRegex(src: string): RegExp {
  return new RegExp(`^(?:${re2ToJs(src)})$`, 's');
}

/** Go's `Regexp.Expand` template syntax: `$1`, `${1}`, `$name`, `${name}`, `$$`. */
function expandTemplate(tpl: string, m: RegExpExecArray): string {
  return tpl.replace(/\$(?:\$|\{([a-zA-Z0-9_]+)\}|([a-zA-Z0-9_]+))/g, (all, braced?: string, bare?: string) => {
    if (all === '$$') return '$';
    const name = braced ?? bare ?? '';
    if (/^\d+$/.test(name)) return m[Number(name)] ?? '';
    return m.groups?.[name] ?? '';
  });
}

// One memoised relabelling function per distinct argument list: the arguments are string
// literals, so a query reuses one entry for all its steps and output label sets keep their
// identity (which the label caches up the tree rely on).
const relabelers = new Map<string, (ls: Labels) => Labels>();

function relabeler(key: string, make: () => (ls: Labels) => Labels): (ls: Labels) => Labels {
  let f = relabelers.get(key);
  if (!f) {
    if (relabelers.size > 10_000) relabelers.clear();
    relabelers.set(key, (f = memoLabels(make())));
  }
  return f;
}

export function labelReplace(vec: Vector, dst: string, repl: string, src: string, regex: string): Vector {
  const f = relabeler(JSON.stringify(['r', dst, repl, src, regex]), () => {
    let re: RegExp;
    try {
      re = goRegex(regex);
    } catch (err) {
      throw new QueryError('execution', `invalid regular expression in label_replace(): ${regex}`, { cause: err });
    }
    if (!isValidLabelName(dst)) throw new QueryError('execution', `invalid destination label name in label_replace(): ${dst}`);
    return (ls) => {
      const m = re.exec(getLabel(ls, src));
      return m ? withLabel(ls, dst, expandTemplate(repl, m)) : ls;
    };
  });
  const out: Vector = vec.map((s) => ({ labels: f(s.labels), t: s.t, v: s.v }));
  checkDuplicates(out);
  return out;
}

export function labelJoin(vec: Vector, dst: string, sep: string, srcs: readonly string[]): Vector {
  const f = relabeler(JSON.stringify(['j', dst, sep, ...srcs]), () => {
    if (!isValidLabelName(dst)) throw new QueryError('execution', `invalid destination label name in label_join(): ${dst}`);
    for (const s of srcs) {
      if (!isValidLabelName(s)) throw new QueryError('execution', `invalid source label name in label_join(): ${s}`);
    }
    return (ls) => withLabel(ls, dst, srcs.map((n) => getLabel(ls, n)).join(sep));
  });
  const out: Vector = vec.map((s) => ({ labels: f(s.labels), t: s.t, v: s.v }));
  checkDuplicates(out);
  return out;
}

interface Bucket {
  upper: number;
  count: number;
}

function bucketQuantile(q: number, buckets: Bucket[], fixed: { monotonic: boolean }): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  buckets.sort((a, b) => a.upper - b.upper);
  if (buckets[buckets.length - 1].upper !== Infinity) return NaN;
  // Coalesce buckets with equal upper bounds.
  const bs: Bucket[] = [];
  for (const b of buckets) {
    const last = bs[bs.length - 1];
    if (last && last.upper === b.upper) last.count += b.count;
    else bs.push({ upper: b.upper, count: b.count });
  }
  let max = -Infinity;
  for (const b of bs) {
    if (b.count > max) max = b.count;
    else if (b.count < max) {
      b.count = max;
      fixed.monotonic = true;
    }
  }
  if (bs.length < 2) return NaN;
  const observations = bs[bs.length - 1].count;
  if (observations === 0 || Number.isNaN(observations)) return NaN;
  let rank = q * observations;
  let b = 0;
  while (b < bs.length - 1 && !(bs[b].count >= rank)) b++;
  if (b === bs.length - 1) return bs[bs.length - 2].upper;
  if (b === 0 && bs[0].upper <= 0) return bs[0].upper;
  let start = 0;
  const end = bs[b].upper;
  let count = bs[b].count;
  if (b > 0) {
    start = bs[b - 1].upper;
    count -= bs[b - 1].count;
    rank -= bs[b - 1].count;
  }
  return start + (end - start) * (rank / count);
}

/** `histogram_quantile` over classic `le` buckets, grouped by all other labels. */
export function histogramQuantile(q: number, vec: Vector, t: number, warnings: Set<string>): Vector {
  const groups = new Map<string, { labels: Labels; buckets: Bucket[]; name: string }>();
  for (const s of vec) {
    const le = getLabel(s.labels, 'le');
    const upper = parseLe(le);
    if (upper === undefined) {
      warnings.add(
        `PromQL warning: bucket label "le" is missing or has a malformed value of "${le}" for metric name "${getLabel(s.labels, METRIC_NAME)}"`,
      );
      continue;
    }
    const labels = withoutLeAndName(s.labels);
    const k = keyOf(labels);
    let g = groups.get(k);
    if (!g) {
      g = { labels, buckets: [], name: getLabel(s.labels, METRIC_NAME) };
      groups.set(k, g);
    }
    g.buckets.push({ upper, count: s.v });
  }
  if (q < 0 || q > 1 || Number.isNaN(q)) warnings.add(`PromQL warning: quantile value should be between 0 and 1, got ${q}`);
  const out: Vector = [];
  for (const g of groups.values()) {
    const fixed = { monotonic: false };
    out.push({ labels: g.labels, t, v: bucketQuantile(q, g.buckets, fixed) } satisfies Sample);
    if (fixed.monotonic) {
      warnings.add(
        `PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name "${g.name}"`,
      );
    }
  }
  return out;
}

function parseLe(s: string): number | undefined {
  if (s === '') return undefined;
  const lower = s.trim().toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  const v = Number(s.trim());
  return Number.isNaN(v) ? undefined : v;
}
