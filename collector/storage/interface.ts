/**
 * Storage interfaces: the only way ingest, PromQL, rules and the web layer touch stored
 * series. `tsdb/` implements them on SQLite; `memory.ts` is an in-memory double for tests.
 *
 * Time is epoch milliseconds throughout; ranges are inclusive on both ends, as in
 * Prometheus's `storage.Querier`.
 */
import type { Labels } from '../../shared/index.js';
import type { MetricTypeName } from '../../shared/index.js';
import { KubepulseError } from '../../shared/index.js';

// ---- writing -----------------------------------------------------------------------

/**
 * Collects samples of one request and makes them visible and durable at `commit`.
 * Not safe for concurrent use; one appender per request. After `commit` or `rollback`
 * the appender must not be used again.
 */
export interface Appender {
  /**
   * Adds one sample. Throws a {@link StorageError} (code names the reason) when the
   * sample can never be stored; the caller decides whether to roll back the whole batch.
   * A sample identical to a stored one (same series, timestamp and value bits) is
   * accepted and ignored.
   */
  append(labels: Labels, t: number, v: number): void;
  /** Records type/help/unit of a metric family; last writer wins. */
  updateMetadata(meta: MetricMetadataRecord): void;
  /** Makes every appended sample durable (survives kill -9) and visible; then returns. */
  commit(): void;
  /** Drops everything appended since the appender was created. */
  rollback(): void;
}

export interface Appendable {
  appender(): Appender;
}

export interface MetricMetadataRecord {
  readonly metric: string;
  readonly type: MetricTypeName;
  readonly help: string;
  readonly unit: string;
}

/** Stable codes of storage rejections, used as the `reason` label of reject counters. */
export const StorageErrorCode = {
  OUT_OF_ORDER: 'out_of_order',
  OUT_OF_BOUNDS: 'too_old',
  DUPLICATE_TIMESTAMP: 'duplicate_timestamp',
  INVALID_LABELS: 'invalid_labels',
  LIMIT: 'limit',
} as const;
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

/** A sample the store refuses; `reason` is a {@link StorageErrorCode}. */
export class StorageError extends KubepulseError {
  readonly reason: StorageErrorCode;
  constructor(reason: StorageErrorCode, message: string) {
    super(`KP_ERR_STORAGE_${reason.toUpperCase()}`, message);
    this.reason = reason;
  }
}

// ---- reading -----------------------------------------------------------------------

export const MatchType = {
  EQUAL: '=',
  NOT_EQUAL: '!=',
  REGEX: '=~',
  NOT_REGEX: '!~',
} as const;
export type MatchType = (typeof MatchType)[keyof typeof MatchType];

/** A label matcher; regexes are fully anchored, as in PromQL. */
export interface Matcher {
  readonly type: MatchType;
  readonly name: string;
  readonly value: string;
}

/** One series' samples in [mint, maxt], sorted by time. `t` and `v` have equal length. */
export interface Series {
  readonly labels: Labels;
  readonly t: Float64Array;
  readonly v: Float64Array;
}

/** Hints a querier may use to read less (e.g. rollups for long ranges); never required. */
export interface SelectHints {
  /** Inclusive time bounds the caller needs, ms. */
  readonly start: number;
  readonly end: number;
  /** Query resolution, ms; 0 for instant queries. */
  readonly step?: number;
  /** The range of a range-vector selector, ms. */
  readonly range?: number;
  /** The function wrapping the selector, e.g. `rate`. */
  readonly func?: string;
}

/**
 * Reads series in the time range it was created for. Results are snapshots: later
 * appends do not change them. `close` releases any resources.
 */
export interface Querier {
  /**
   * Series matching all matchers (at least one must not match the empty string), sorted by
   * labels. The answer is read-only: a store may hand the same array and Series to later
   * calls (the TSDB's select cache does), so callers must not modify it.
   */
  select(matchers: readonly Matcher[], hints?: SelectHints): Series[];
  /** Sorted label names of series matching the matchers (all series when none). */
  labelNames(matchers?: readonly Matcher[]): string[];
  /** Sorted values of label `name` in series matching the matchers. */
  labelValues(name: string, matchers?: readonly Matcher[]): string[];
  close(): void;
}

export interface Queryable {
  /** A querier over [mint, maxt], inclusive, ms. */
  querier(mint: number, maxt: number): Querier;
}

/** What the collector's `/metrics` and the metadata API read. */
export interface HeadReader {
  /** The newest sample of every series whose newest sample is not a stale marker. */
  latestSamples(): Iterable<{ labels: Labels; t: number; v: number }>;
  /** Metadata of every metric family that has any, by metric name. */
  metadata(): ReadonlyMap<string, MetricMetadataRecord>;
}

/** Everything a store offers; `main.ts` hands out the narrow views. */
export interface Storage extends Appendable, Queryable, HeadReader {
  close(): void;
}
