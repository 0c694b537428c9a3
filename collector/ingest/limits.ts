/**
 * Ingest limits that protect the store from one sender: concurrent requests, and new
 * series per minute per sender (a cardinality bomb from one node cannot fill the store).
 */
import type { Labels } from '../../shared/index.js';

/** Token bucket of new series per sender: `perMinute` refill, burst of the same size. */
export class NewSeriesLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    private readonly maxSenders = 100_000,
  ) {}

  /** The bucket size: a request with more new series than this can never pass. */
  get capacity(): number {
    return this.perMinute;
  }

  /**
   * Takes `n` tokens for `sender` when it has them and returns 0; otherwise takes
   * nothing and returns the ms until it will have them.
   */
  take(sender: string, n: number): number {
    if (n <= 0 || this.perMinute <= 0) return 0;
    const now = this.now();
    let b = this.buckets.get(sender);
    if (!b) {
      if (this.buckets.size >= this.maxSenders) this.buckets.delete(this.buckets.keys().next().value as string);
      b = { tokens: this.perMinute, at: now };
      this.buckets.set(sender, b);
    }
    b.tokens = Math.min(this.perMinute, b.tokens + ((now - b.at) * this.perMinute) / 60_000);
    b.at = now;
    if (b.tokens >= n) {
      b.tokens -= n;
      return 0;
    }
    return Math.ceil(((n - b.tokens) * 60_000) / this.perMinute);
  }
}

/** What the store can say about series it holds; optional, for the new-series limit. */
export interface SeriesLookup {
  /** Whether the store holds a series with exactly these (sorted) labels. */
  hasSeries(labels: Labels): boolean;
}

/**
 * Fallback when the store offers no {@link SeriesLookup}: remembers 32-bit hashes of
 * series keys seen, up to `max` (then forgets all and starts over, failing open). A
 * hash collision makes a new series count as known, which only loosens the limit.
 */
export class SeenSeries {
  private seen = new Set<number>();
  constructor(private readonly max = 4_000_000) {}

  has(key: string): boolean {
    return this.seen.has(fnv1a(key));
  }

  add(key: string): void {
    if (this.seen.size >= this.max) this.seen = new Set();
    this.seen.add(fnv1a(key));
  }
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}
