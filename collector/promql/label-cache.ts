/**
 * Identity caches for label-set transformations. A series keeps the same `Labels` array
 * for the whole query, so deriving (dropping `__name__`, grouping, matching signatures)
 * once per array instead of once per step turns most per-step label work into a
 * WeakMap lookup, and keeps derived arrays identical across steps so callers up the tree
 * hit their caches too.
 */
import type { Labels } from '../../shared/index.js';
import { labelsKey } from '../../shared/index.js';

/** A unary function of a label set, memoised by the set's identity. */
export function memoLabels<T>(fn: (ls: Labels) => T): (ls: Labels) => T {
  const cache = new WeakMap<Labels, T>();
  return (ls) => {
    let v = cache.get(ls);
    if (v === undefined) {
      v = fn(ls);
      cache.set(ls, v);
    }
    return v;
  };
}

/** `labelsKey`, memoised by identity. */
export const keyOf: (ls: Labels) => string = memoLabels(labelsKey);

/**
 * Canonical objects by value: the many rules that repeat one grouping or matching clause
 * (with different thresholds, say) then share one {@link memoPerOwner} cache, which
 * therefore stays warm across queries. Bounded: forgets everything past `limit` keys.
 */
export function internBy<O>(keyOfOwner: (o: O) => string, limit = 10_000): (o: O) => O {
  const byKey = new Map<string, O>();
  return (o) => {
    const k = keyOfOwner(o);
    let c = byKey.get(k);
    if (c === undefined) {
      if (byKey.size >= limit) byKey.clear();
      byKey.set(k, (c = o));
    }
    return c;
  };
}

/** Per-owner memo: one cache for each owner object (an AST node, a matching spec). */
export function memoPerOwner<O extends object, T>(make: (owner: O) => (ls: Labels) => T): (owner: O) => (ls: Labels) => T {
  const owners = new WeakMap<O, (ls: Labels) => T>();
  return (owner) => {
    let f = owners.get(owner);
    if (!f) owners.set(owner, (f = memoLabels(make(owner))));
    return f;
  };
}
