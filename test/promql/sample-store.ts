/**
 * A minimal in-memory Queryable for the PromQL tests that keeps NaN payloads intact.
 *
 * NOTE: MemoryStorage (collector/storage/memory.ts) keeps values in plain JS arrays, and
 * V8 canonicalises NaNs stored in double arrays, so stale markers read back as ordinary
 * NaNs there. Until that is fixed this store holds values in Float64Arrays.
 */
import type { Labels } from '../../shared/index.js';
import { compareLabels, getLabel, labelsKey } from '../../shared/index.js';
import type { Matcher, Querier, Queryable, Series } from '../../collector/storage/index.js';
import { matchLabels } from '../../collector/storage/index.js';

interface Buf {
  labels: Labels;
  t: Float64Array;
  v: Float64Array;
  n: number;
}

export class SampleStore implements Queryable {
  private readonly series = new Map<string, Buf>();
  /** Series by metric name, so a selector with a name does not scan everything. */
  private readonly byName = new Map<string, Buf[]>();

  /** Adds a sample; a sample at an existing timestamp replaces the value. */
  add(labels: Labels, t: number, v: number): void {
    const k = labelsKey(labels);
    let s = this.series.get(k);
    if (!s) {
      this.series.set(k, (s = { labels, t: new Float64Array(16), v: new Float64Array(16), n: 0 }));
      const name = getLabel(labels, '__name__');
      const list = this.byName.get(name);
      if (list) list.push(s);
      else this.byName.set(name, [s]);
    }
    if (s.n > 0 && s.t[s.n - 1] >= t) {
      const i = s.t.subarray(0, s.n).findIndex((x) => x >= t);
      if (s.t[i] === t) {
        s.v[i] = v;
        return;
      }
      // Rare in tests: insert by rebuilding.
      // Float64Array copies keep NaN payloads (stale markers); JS arrays would not.
      const ts = s.t.slice(0, s.n);
      const vs = s.v.slice(0, s.n);
      s.n = 0;
      for (let j = 0; j < ts.length; j++) {
        if (j === i) this.push(s, t, v);
        this.push(s, ts[j], vs[j]);
      }
      return;
    }
    this.push(s, t, v);
  }

  private push(s: Buf, t: number, v: number): void {
    if (s.n === s.t.length) {
      const t2 = new Float64Array(s.n * 2);
      const v2 = new Float64Array(s.n * 2);
      t2.set(s.t);
      v2.set(s.v);
      s.t = t2;
      s.v = v2;
    }
    s.t[s.n] = t;
    s.v[s.n] = v;
    s.n++;
  }

  querier(mint: number, maxt: number): Querier {
    const matching = (ms?: readonly Matcher[]): Buf[] => {
      if (!ms || !ms.length) return [...this.series.values()];
      const nameEq = ms.find((m) => m.name === '__name__' && m.type === '=');
      const candidates = nameEq ? (this.byName.get(nameEq.value) ?? []) : [...this.series.values()];
      return candidates.filter((s) => matchLabels(ms, s.labels));
    };
    const range = (s: Buf): [number, number] => [lowerBound(s.t, s.n, mint, false), lowerBound(s.t, s.n, maxt, true)];
    return {
      select: (ms) => {
        const out: Series[] = [];
        for (const s of matching(ms)) {
          const [lo, hi] = range(s);
          if (hi > lo) out.push({ labels: s.labels, t: s.t.slice(lo, hi), v: s.v.slice(lo, hi) });
        }
        return out.sort((a, b) => compareLabels(a.labels, b.labels));
      },
      labelNames: (ms) => {
        const names = new Set<string>();
        for (const s of matching(ms)) {
          const [lo, hi] = range(s);
          if (hi > lo) for (const l of s.labels) names.add(l.name);
        }
        return [...names].sort();
      },
      labelValues: (name, ms) => {
        const vals = new Set<string>();
        for (const s of matching(ms)) {
          const [lo, hi] = range(s);
          const v = getLabel(s.labels, name);
          if (hi > lo && v !== '') vals.add(v);
        }
        return [...vals].sort();
      },
      close: () => {},
    };
  }
}

/** First index in t[0, n) with t[i] ≥ x (or > x when `after`). */
function lowerBound(t: Float64Array, n: number, x: number, after: boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid] < x || (after && t[mid] === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
