/**
 * Aggregation operators (`sum by (…)`, `topk`, …) over one instant vector, as Prometheus's
 * `evaluator.aggregation`.
 */
import type { Label, Labels } from '../../shared/index.js';
import { METRIC_NAME, isValidLabelName, labelsKey, withLabel } from '../../shared/index.js';
import type { AggregateOp } from './ast.js';
import type { Sample, Vector } from './value.js';
import { QueryError, formatFloat } from './value.js';
import { kahanSumInc, mean, quantile, variance } from './functions.js';

interface Group {
  labels: Labels;
  samples: Sample[];
}

function groupLabels(ls: Labels, grouping: ReadonlySet<string>, without: boolean): Labels {
  if (without) return ls.filter((l: Label) => !grouping.has(l.name) && l.name !== METRIC_NAME);
  return ls.filter((l: Label) => grouping.has(l.name));
}

/**
 * Evaluates one aggregation at time `t`. `param` is the evaluated parameter (k, q or the
 * count_values label name).
 */
export function aggregate(
  op: AggregateOp,
  vec: Vector,
  grouping: readonly string[],
  without: boolean,
  param: number | string | undefined,
  t: number,
): Vector {
  if (op === 'count_values') {
    const label = param as string;
    if (!isValidLabelName(label)) throw new QueryError('execution', `invalid label name "${label}"`);
    vec = vec.map((s) => ({ labels: withLabel(s.labels, label, formatFloat(s.v)), t: s.t, v: s.v }));
    grouping = without ? grouping.filter((g) => g !== label) : [...grouping, label];
  }
  const gset = new Set(grouping);
  const groups = new Map<string, Group>();
  for (const s of vec) {
    const gl = groupLabels(s.labels, gset, without);
    const k = labelsKey(gl);
    let g = groups.get(k);
    if (!g) {
      g = { labels: gl, samples: [] };
      groups.set(k, g);
    }
    g.samples.push(s);
  }
  const out: Vector = [];
  if (op === 'topk' || op === 'bottomk') {
    const k = param as number;
    if (Number.isNaN(k)) throw new QueryError('execution', 'Parameter value is NaN');
    const kk = Math.trunc(k);
    if (kk < 1) return out;
    const top = op === 'topk';
    for (const g of groups.values()) {
      // NaN is the worst value for both: it sorts last.
      const sorted = [...g.samples].sort((a, b) => {
        if (Number.isNaN(a.v)) return Number.isNaN(b.v) ? 0 : 1;
        if (Number.isNaN(b.v)) return -1;
        return top ? b.v - a.v : a.v - b.v;
      });
      for (const s of sorted.slice(0, kk)) out.push({ labels: s.labels, t, v: s.v });
    }
    return out;
  }
  for (const g of groups.values()) {
    const vals = g.samples.map((s) => s.v);
    let v: number;
    switch (op) {
      case 'sum': {
        let sum = 0;
        const c = { c: 0 };
        for (const x of vals) sum = kahanSumInc(x, sum, c);
        v = Number.isFinite(sum) ? sum + c.c : sum;
        break;
      }
      case 'avg':
        v = mean(vals);
        break;
      case 'count':
      case 'count_values':
        v = vals.length;
        break;
      case 'group':
        v = 1;
        break;
      case 'min':
        v = vals[0];
        for (const x of vals) if (x < v || Number.isNaN(v)) v = x;
        break;
      case 'max':
        v = vals[0];
        for (const x of vals) if (x > v || Number.isNaN(v)) v = x;
        break;
      case 'stddev':
        v = Math.sqrt(variance(vals));
        break;
      case 'stdvar':
        v = variance(vals);
        break;
      case 'quantile':
        v = quantile(param as number, vals);
        break;
    }
    out.push({ labels: g.labels, t, v });
  }
  return out;
}
