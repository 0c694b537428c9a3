/**
 * An in-memory {@link Storage}: the test double for PromQL, rules and the web layer.
 * Keeps every sample in sorted arrays; not meant for production sizes.
 */
import type { Labels } from '../../shared/index.js';
import { compareLabels, labelsKey, isStaleNaN, float64Bits, getLabel } from '../../shared/index.js';
import type {
  Appender,
  Matcher,
  MetricMetadataRecord,
  Querier,
  Series,
  Storage,
} from './interface.js';
import { StorageError } from './interface.js';
import { matchLabels } from './matchers.js';

interface MemSeries {
  labels: Labels;
  t: number[];
  /**
   * Values as raw float64 storage: V8 canonicalises NaN payloads in plain double
   * arrays, which would turn stale markers into ordinary NaNs.
   */
  v: Float64Array;
}

function insertValue(s: MemSeries, i: number, v: number): void {
  const n = s.t.length - 1; // t already holds the new timestamp
  if (n >= s.v.length) {
    const grown = new Float64Array(Math.max(16, s.v.length * 2));
    grown.set(s.v);
    s.v = grown;
  }
  s.v.copyWithin(i + 1, i, n);
  s.v[i] = v;
}

export class MemoryStorage implements Storage {
  private readonly series = new Map<string, MemSeries>();
  private readonly meta = new Map<string, MetricMetadataRecord>();

  appender(): Appender {
    const pending: Array<{ labels: Labels; t: number; v: number }> = [];
    const pendingMeta: MetricMetadataRecord[] = [];
    let done = false;
    return {
      append: (labels, t, v) => {
        if (done) throw new Error('appender already committed or rolled back');
        const s = this.series.get(labelsKey(labels));
        if (s) {
          const i = lowerBound(s.t, t);
          if (i < s.t.length && s.t[i] === t && float64Bits(s.v[i]) !== float64Bits(v)) {
            throw new StorageError('duplicate_timestamp', `duplicate sample for timestamp ${t} with a different value`);
          }
        }
        pending.push({ labels, t, v });
      },
      updateMetadata: (m) => pendingMeta.push(m),
      commit: () => {
        done = true;
        for (const p of pending) this.insert(p.labels, p.t, p.v);
        for (const m of pendingMeta) this.meta.set(m.metric, m);
      },
      rollback: () => {
        done = true;
      },
    };
  }

  /** Adds samples directly, bypassing the appender; for test set-up. */
  add(labels: Labels, t: number, v: number): void {
    this.insert(labels, t, v);
  }

  private insert(labels: Labels, t: number, v: number): void {
    const key = labelsKey(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, t: [], v: new Float64Array(16) };
      this.series.set(key, s);
    }
    const n = s.t.length;
    if (n === 0 || s.t[n - 1] < t) {
      s.t.push(t);
      insertValue(s, n, v);
      return;
    }
    const i = lowerBound(s.t, t);
    if (s.t[i] === t) return; // identical duplicate (different values were refused in append)
    s.t.splice(i, 0, t);
    insertValue(s, i, v);
  }

  querier(mint: number, maxt: number): Querier {
    const all = [...this.series.values()];
    const matching = (ms: readonly Matcher[] | undefined) => (ms && ms.length ? all.filter((s) => matchLabels(ms, s.labels)) : all);
    return {
      select: (matchers) => {
        const out: Series[] = [];
        for (const s of matching(matchers)) {
          const lo = lowerBound(s.t, mint);
          const hi = lowerBound(s.t, maxt + 1);
          if (hi <= lo) continue;
          out.push({ labels: s.labels, t: Float64Array.from(s.t.slice(lo, hi)), v: s.v.slice(lo, hi) });
        }
        return out.sort((a, b) => compareLabels(a.labels, b.labels));
      },
      labelNames: (matchers) => {
        const names = new Set<string>();
        for (const s of matching(matchers)) if (overlaps(s, mint, maxt)) for (const l of s.labels) names.add(l.name);
        return [...names].sort();
      },
      labelValues: (name, matchers) => {
        const values = new Set<string>();
        for (const s of matching(matchers)) {
          const v = getLabel(s.labels, name);
          if (v !== '' && overlaps(s, mint, maxt)) values.add(v);
        }
        return [...values].sort();
      },
      close: () => {},
    };
  }

  *latestSamples(): Iterable<{ labels: Labels; t: number; v: number }> {
    for (const s of this.series.values()) {
      const n = s.t.length;
      if (n === 0 || isStaleNaN(s.v[n - 1])) continue;
      yield { labels: s.labels, t: s.t[n - 1], v: s.v[n - 1] };
    }
  }

  metadata(): ReadonlyMap<string, MetricMetadataRecord> {
    return this.meta;
  }

  close(): void {}
}

function overlaps(s: MemSeries, mint: number, maxt: number): boolean {
  const i = lowerBound(s.t, mint);
  return i < s.t.length && s.t[i] <= maxt;
}

function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
