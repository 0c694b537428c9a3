/**
 * Matcher evaluation shared by every store and by PromQL.
 */
import type { Labels } from '../../shared/index.js';
import { getLabel } from '../../shared/index.js';
import type { Matcher } from './interface.js';

const regexCache = new Map<string, RegExp>();

/** The anchored RegExp of a PromQL regex matcher; throws on invalid syntax. */
export function anchoredRegex(src: string): RegExp {
  let re = regexCache.get(src);
  if (!re) {
    // `s` so that `.` matches newlines, as Go's RE2 does in Prometheus ((?s) is implied).
    re = new RegExp(`^(?:${src})$`, 's');
    if (regexCache.size > 10_000) regexCache.clear();
    regexCache.set(src, re);
  }
  return re;
}

/** True when the label value `v` satisfies `m`. */
export function matchValue(m: Matcher, v: string): boolean {
  switch (m.type) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return anchoredRegex(m.value).test(v);
    case '!~':
      return !anchoredRegex(m.value).test(v);
  }
}

/** True when the series labels satisfy every matcher. */
export function matchLabels(matchers: readonly Matcher[], ls: Labels): boolean {
  for (const m of matchers) if (!matchValue(m, getLabel(ls, m.name))) return false;
  return true;
}
