/**
 * Binary operators between scalars and instant vectors, with vector matching
 * (`on`/`ignoring`, `group_left`/`group_right`), as Prometheus's `VectorBinop` and friends.
 */
import type { Label, Labels } from '../../shared/index.js';
import { METRIC_NAME, getLabel, labelsToString, withLabel } from '../../shared/index.js';
import type { BinaryOp, VectorMatching } from './ast.js';
import { COMPARISON_OPS } from './ast.js';
import type { Sample, Vector } from './value.js';
import { QueryError } from './value.js';
import { dropName } from './functions.js';
import { internBy, keyOf, memoPerOwner } from './label-cache.js';

/** Go's `math.Mod`: result has the sign of the dividend, like JS `%`. */
function goMod(a: number, b: number): number {
  return a % b;
}

/** Returns [value, keep]; for comparisons value is the left-hand side. */
export function scalarBinop(op: BinaryOp, l: number, r: number): number {
  switch (op) {
    case '+':
      return l + r;
    case '-':
      return l - r;
    case '*':
      return l * r;
    case '/':
      return l / r;
    case '%':
      return goMod(l, r);
    case '^':
      return goPow(l, r);
    case 'atan2':
      return Math.atan2(l, r);
    case '==':
      return l === r ? 1 : 0;
    case '!=':
      return l !== r ? 1 : 0;
    case '>':
      return l > r ? 1 : 0;
    case '<':
      return l < r ? 1 : 0;
    case '>=':
      return l >= r ? 1 : 0;
    case '<=':
      return l <= r ? 1 : 0;
    default:
      throw new QueryError('internal', `operator "${op}" not allowed for scalar operations`);
  }
}

/** Go's math.Pow differs from JS's `**` for 1^NaN and (-1)^±Inf: both are 1 in Go. */
function goPow(l: number, r: number): number {
  if (l === 1) return 1;
  if (l === -1 && !Number.isFinite(r) && !Number.isNaN(r)) return 1;
  return l ** r;
}

function elemBinop(op: BinaryOp, l: number, r: number): [number, boolean] {
  if (COMPARISON_OPS.has(op)) return [l, scalarBinop(op, l, r) === 1];
  return [scalarBinop(op, l, r), true];
}

/** Arithmetic drops `__name__`; Prometheus 2.x forgot atan2, 3.x drops it there too. */
function dropsName(op: BinaryOp, v3: boolean): boolean {
  if (op === 'atan2') return v3;
  return !COMPARISON_OPS.has(op);
}

/** Vector ⊕ scalar (or scalar ⊕ vector when `swap`). */
export function vectorScalarBinop(op: BinaryOp, vec: Vector, s: number, swap: boolean, returnBool: boolean, t: number, v3: boolean): Vector {
  const out: Vector = [];
  const cmp = COMPARISON_OPS.has(op);
  const drop = dropsName(op, v3) || returnBool;
  for (const e of vec) {
    const l = swap ? s : e.v;
    const r = swap ? e.v : s;
    let value: number;
    if (cmp) {
      // A filter keeps the vector's own value (the right side when swapped).
      const keep = scalarBinop(op, l, r) === 1;
      if (returnBool) value = keep ? 1 : 0;
      else if (!keep) continue;
      else value = e.v;
    } else value = scalarBinop(op, l, r);
    out.push({ labels: drop ? dropName(e.labels) : e.labels, t, v: value });
  }
  return out;
}

/**
 * One VectorMatching object per distinct clause, so that the label caches below are
 * shared by every query matching the same way (rules repeated with other thresholds).
 */
const canonicalMatching = internBy((m: VectorMatching) => `${m.card}|${m.on}|${m.matchingLabels.join('\xff')}|${m.include.join('\xff')}`);

const signatureFor = memoPerOwner((m: VectorMatching) => {
  if (m.on) {
    const names = [...m.matchingLabels].sort();
    return (ls: Labels) => {
      let s = '';
      for (const n of names) s += n + '\xff' + getLabel(ls, n) + '\xfe';
      return s;
    };
  }
  const skip = new Set(m.matchingLabels);
  return (ls: Labels) => {
    let s = '';
    for (const l of ls) if (l.name !== METRIC_NAME && !skip.has(l.name)) s += l.name + '\xff' + l.value + '\xfe';
    return s;
  };
});

/** The key two samples must share to match. */
function signature(ls: Labels, m: VectorMatching): string {
  return signatureFor(m)(ls);
}

function matchedLabels(ls: Labels, m: VectorMatching): Labels {
  if (m.on) return ls.filter((l: Label) => m.matchingLabels.includes(l.name));
  return ls.filter((l: Label) => l.name !== METRIC_NAME && !m.matchingLabels.includes(l.name));
}

/** `and`, `or`, `unless`. */
export function setBinop(op: 'and' | 'or' | 'unless', lhs: Vector, rhs: Vector, m: VectorMatching, t: number): Vector {
  m = canonicalMatching(m);
  const at = (v: Vector): Vector => v.map((s) => (s.t === t ? s : { labels: s.labels, t, v: s.v }));
  switch (op) {
    case 'and': {
      if (lhs.length === 0 || rhs.length === 0) return [];
      const sigs = new Set(rhs.map((s) => signature(s.labels, m)));
      return at(lhs.filter((s) => sigs.has(signature(s.labels, m))));
    }
    case 'or': {
      const sigs = new Set(lhs.map((s) => signature(s.labels, m)));
      return at([...lhs, ...rhs.filter((s) => !sigs.has(signature(s.labels, m)))]);
    }
    case 'unless': {
      if (rhs.length === 0) return at(lhs);
      const sigs = new Set(rhs.map((s) => signature(s.labels, m)));
      return at(lhs.filter((s) => !sigs.has(signature(s.labels, m))));
    }
  }
}

// Result labels depend on the lhs set (and, with group_x(labels), on the rhs set too);
// memoised per canonical matching spec and per whether the operation drops the name (all
// that op, bool and compat change in them).
type ResultCache = WeakMap<Labels, Labels | WeakMap<Labels, Labels>>;
const resultCache = new WeakMap<VectorMatching, [ResultCache, ResultCache]>();

function resultLabels(l: Labels, r: Labels, op: BinaryOp, m: VectorMatching, returnBool: boolean, v3: boolean): Labels {
  let pair = resultCache.get(m);
  if (!pair) resultCache.set(m, (pair = [new WeakMap(), new WeakMap()]));
  const byL = pair[dropsName(op, v3) || returnBool ? 1 : 0];
  if (m.include.length === 0) {
    let out = byL.get(l) as Labels | undefined;
    if (!out) byL.set(l, (out = computeResultLabels(l, r, op, m, returnBool, v3)));
    return out;
  }
  let byR = byL.get(l) as WeakMap<Labels, Labels> | undefined;
  if (!byR) byL.set(l, (byR = new WeakMap()));
  let out = byR.get(r);
  if (!out) byR.set(r, (out = computeResultLabels(l, r, op, m, returnBool, v3)));
  return out;
}

function computeResultLabels(l: Labels, r: Labels, op: BinaryOp, m: VectorMatching, returnBool: boolean, v3: boolean): Labels {
  let out: Labels = dropsName(op, v3) || returnBool ? dropName(l) : l;
  if (m.card === 'one-to-one') {
    if (m.on) out = out.filter((x: Label) => m.matchingLabels.includes(x.name));
    else if (m.matchingLabels.length) out = out.filter((x: Label) => !m.matchingLabels.includes(x.name));
  }
  for (const n of m.include) out = withLabel(out, n, getLabel(r, n));
  return out;
}

/** Arithmetic and comparison between two vectors. */
export function vectorBinop(op: BinaryOp, lhs: Vector, rhs: Vector, m: VectorMatching, returnBool: boolean, t: number, v3: boolean): Vector {
  if (m.card === 'many-to-many') throw new QueryError('internal', 'many-to-many only allowed for set operators');
  // As Prometheus: nothing can match, so no duplicate checks (and no errors) either.
  if (lhs.length === 0 || rhs.length === 0) return [];
  m = canonicalMatching(m);
  const swapped = m.card === 'one-to-many';
  if (swapped) [lhs, rhs] = [rhs, lhs];
  const right = new Map<string, Sample>();
  for (const rs of rhs) {
    const sig = signature(rs.labels, m);
    const dup = right.get(sig);
    if (dup) {
      const side = swapped ? 'left' : 'right';
      throw new QueryError(
        'execution',
        `found duplicate series for the match group ${labelsToString(matchedLabels(rs.labels, m))} on the ${side} hand-side of the operation: [${labelsToString(rs.labels)}, ${labelsToString(dup.labels)}];many-to-many matching not allowed: matching labels must be unique on one side`,
      );
    }
    right.set(sig, rs);
  }
  const matched = new Map<string, Set<string> | null>();
  const out: Vector = [];
  for (const ls of lhs) {
    const sig = signature(ls.labels, m);
    const rs = right.get(sig);
    if (!rs) continue;
    let vl = ls.v;
    let vr = rs.v;
    if (swapped) [vl, vr] = [vr, vl];
    const [raw, keep] = elemBinop(op, vl, vr);
    let value = raw;
    if (returnBool) value = keep ? 1 : 0;
    else if (!keep) continue;
    const labels = resultLabels(ls.labels, rs.labels, op, m, returnBool, v3);
    const seen = matched.get(sig);
    if (m.card === 'one-to-one') {
      if (seen !== undefined) {
        throw new QueryError('execution', 'multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)');
      }
      matched.set(sig, null);
    } else {
      const k = keyOf(labels);
      if (!seen) matched.set(sig, new Set([k]));
      else if (seen.has(k)) throw new QueryError('execution', 'multiple matches for labels: grouping labels must ensure unique matches');
      else seen.add(k);
    }
    out.push({ labels, t, v: value });
  }
  return out;
}
