/**
 * The in-memory series index: label name → label value → sorted series ids, with label
 * names and values interned so that 100k series sharing `job="kubelet"` share one string.
 * It is rebuilt from the persisted `series` table at open.
 */
import type { Label, Labels } from '../../shared/index.js';
import type { Matcher } from '../storage/index.js';
import { matchValue } from '../storage/index.js';

export class PostingsIndex {
  private readonly strings = new Map<string, string>();
  /** Label objects shared by every series with the same pair: name → value → label. */
  private readonly pairs = new Map<string, Map<string, Label>>();
  private readonly postings = new Map<string, Map<string, number[]>>();

  /** The canonical copy of `s`. */
  intern(s: string): string {
    const c = this.strings.get(s);
    if (c !== undefined) return c;
    this.strings.set(s, s);
    return s;
  }

  /** A copy of `ls` built from shared label objects and interned strings. */
  internLabels(ls: Labels): Labels {
    const out: Label[] = new Array(ls.length);
    for (let i = 0; i < ls.length; i++) {
      const { name, value } = ls[i];
      let byValue = this.pairs.get(name);
      if (!byValue) this.pairs.set(name, (byValue = new Map()));
      let l = byValue.get(value);
      if (!l) byValue.set(value, (l = Object.freeze({ name: this.intern(name), value: this.intern(value) })));
      out[i] = l;
    }
    return out;
  }

  /** Adds a series; ids must be added in increasing order (they are assigned so). */
  add(id: number, ls: Labels): void {
    for (const l of ls) {
      let byValue = this.postings.get(l.name);
      if (!byValue) {
        byValue = new Map();
        this.postings.set(l.name, byValue);
      }
      const list = byValue.get(l.value);
      if (!list) byValue.set(l.value, [id]);
      else if (list[list.length - 1] < id) list.push(id);
      else insertSorted(list, id);
    }
  }

  remove(id: number, ls: Labels): void {
    for (const l of ls) {
      const byValue = this.postings.get(l.name);
      const list = byValue?.get(l.value);
      if (!byValue || !list) continue;
      const i = lowerBound(list, id);
      if (list[i] === id) list.splice(i, 1);
      if (list.length === 0) {
        byValue.delete(l.value);
        if (byValue.size === 0) this.postings.delete(l.name);
      }
    }
    // Interned strings and label objects stay until the next `forgetUnused`.
  }

  /**
   * Drops interned strings and label objects no live series uses; `live` yields the
   * labels of every series left. Called after retention removed series, so pod churn
   * does not grow the tables forever.
   */
  forgetUnused(live: Iterable<Labels>): void {
    this.strings.clear();
    this.pairs.clear();
    for (const ls of live) {
      for (const l of ls) {
        this.strings.set(l.name, l.name);
        this.strings.set(l.value, l.value);
        let byValue = this.pairs.get(l.name);
        if (!byValue) this.pairs.set(l.name, (byValue = new Map()));
        byValue.set(l.value, l);
      }
    }
  }

  /** Every label name in the index, unsorted. */
  names(): IterableIterator<string> {
    return this.postings.keys();
  }

  /** Every value of label `name`, unsorted. */
  values(name: string): IterableIterator<string> {
    return this.postings.get(name)?.keys() ?? [][Symbol.iterator]();
  }

  /**
   * Candidate series ids for the matchers, sorted ascending: the intersection of the
   * postings of every matcher that does not match the empty string. `null` when no
   * matcher narrows the set (the caller scans every series). Candidates still have to be
   * checked against the matchers that match the empty string.
   */
  candidates(matchers: readonly Matcher[]): number[] | null {
    let result: number[] | null = null;
    // Cheapest first: equality matchers hit one list.
    const ordered = [...matchers].sort((a, b) => rank(a) - rank(b));
    for (const m of ordered) {
      if (matchValue(m, '')) continue;
      const list = this.matcherPostings(m);
      result = result === null ? list : intersect(result, list);
      if (result.length === 0) return result;
    }
    return result;
  }

  private matcherPostings(m: Matcher): number[] {
    const byValue = this.postings.get(m.name);
    if (!byValue) return [];
    if (m.type === '=') return byValue.get(m.value) ?? [];
    const lists: number[][] = [];
    for (const [value, list] of byValue) if (matchValue(m, value)) lists.push(list);
    return union(lists);
  }
}

function rank(m: Matcher): number {
  return m.type === '=' ? 0 : m.type === '=~' ? 1 : 2;
}

export function lowerBound(a: ArrayLike<number>, x: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(list: number[], id: number): void {
  const i = lowerBound(list, id);
  if (list[i] !== id) list.splice(i, 0, id);
}

function intersect(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push(a[i]);
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  return out;
}

function union(lists: readonly number[][]): number[] {
  if (lists.length === 0) return [];
  if (lists.length === 1) return lists[0];
  const all: number[] = [];
  for (const l of lists) for (const id of l) all.push(id);
  all.sort((x, y) => x - y);
  const out: number[] = [];
  for (const id of all) if (out.length === 0 || out[out.length - 1] !== id) out.push(id);
  return out;
}
