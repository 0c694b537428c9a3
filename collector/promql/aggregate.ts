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
import { internBy, memoPerOwner } from './label-cache.js';

interface Group {
  labels: Labels;
  samples: Sample[];
}

// Keyed by the grouping's value, so that every query grouping the same way shares it.
const groupFor = memoPerOwner((g: { names: readonly string[]; without: boolean }) => {
  const set = new Set(g.names);
  return (ls: Labels) => {
    const labels = g.without ? ls.filter((l: Label) => !set.has(l.name) && l.name !== METRIC_NAME) : ls.filter((l: Label) => set.has(l.name));
    return { labels, key: labelsKey(labels) };
  };
});
const groupSpecs = new WeakMap<readonly string[], { names: readonly string[]; without: boolean }>();
const canonicalSpec = internBy((g: { names: readonly string[]; without: boolean }) => `${g.without ? '-' : '+'}${g.names.join('\xff')}`);

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
  let spec = groupSpecs.get(grouping);
  if (!spec || spec.without !== without) groupSpecs.set(grouping, (spec = canonicalSpec({ names: grouping, without })));
  const group = groupFor(spec);
  if (op === 'sum' || op === 'count' || op === 'group' || op === 'min' || op === 'max') return streaming(op, vec, group, t);
  const groups = new Map<string, Group>();
  for (const s of vec) {
    const { labels: gl, key: k } = group(s.labels);
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
      case 'avg':
        v = mean(vals);
        break;
      case 'count_values':
        v = vals.length;
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
      default:
        throw new QueryError('internal', `aggregation ${op} has no implementation`);
    }
    out.push({ labels: g.labels, t, v });
  }
  return out;
}

/** sum/count/group/min/max without keeping the samples of a group. */
function streaming(op: 'sum' | 'count' | 'group' | 'min' | 'max', vec: Vector, group: (ls: Labels) => { labels: Labels; key: string }, t: number): Vector {
  const index = new Map<string, number>();
  const labels: Labels[] = [];
  const acc: number[] = [];
  const comp: number[] = [];
  const n: number[] = [];
  const c = { c: 0 };
  for (const s of vec) {
    const g = group(s.labels);
    let i = index.get(g.key);
    const v = s.v;
    if (i === undefined) {
      i = labels.length;
      index.set(g.key, i);
      labels.push(g.labels);
      acc.push(op === 'sum' ? 0 : v);
      comp.push(0);
      n.push(0);
    }
    n[i]++;
    switch (op) {
      case 'sum':
        c.c = comp[i];
        acc[i] = kahanSumInc(v, acc[i], c);
        comp[i] = c.c;
        break;
      case 'min':
        if (v < acc[i] || Number.isNaN(acc[i])) acc[i] = v;
        break;
      case 'max':
        if (v > acc[i] || Number.isNaN(acc[i])) acc[i] = v;
        break;
      default:
        break;
    }
  }
  const out: Vector = new Array<Sample>(labels.length);
  for (let i = 0; i < labels.length; i++) {
    let v: number;
    if (op === 'sum') v = Number.isFinite(acc[i]) ? acc[i] + comp[i] : acc[i];
    else if (op === 'count') v = n[i];
    else if (op === 'group') v = 1;
    else v = acc[i];
    out[i] = { labels: labels[i], t, v };
  }
  return out;
}
