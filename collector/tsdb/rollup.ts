/**
 * 5-minute rollups: per bucket the min, max, sum, count and last of the raw samples
 * (stale markers and NaNs excluded), stored as five XOR chunks sharing their timestamps.
 * Bucket timestamps are the bucket's end minus 1 ms, i.e. the last instant it covers, so a
 * rollup point never claims a time later than the samples it summarises.
 */
import { decodeChunk, encodeChunk } from './xor-chunk.js';

export const ROLLUP_STEP_MS = 5 * 60_000;

/** The five aggregates of one series over consecutive buckets. */
export interface Rollup {
  t: Float64Array;
  min: Float64Array;
  max: Float64Array;
  sum: Float64Array;
  count: Float64Array;
  last: Float64Array;
}

export const ROLLUP_FIELDS = ['min', 'max', 'sum', 'count', 'last'] as const;
export type RollupField = (typeof ROLLUP_FIELDS)[number];

/** Rolls up sorted samples into `stepMs` buckets aligned to the epoch. */
export function computeRollup(t: Float64Array, v: Float64Array, stepMs = ROLLUP_STEP_MS): Rollup {
  const ts: number[] = [];
  const agg: number[][] = [[], [], [], [], []];
  let bucket = NaN;
  let mn = 0;
  let mx = 0;
  let sum = 0;
  let count = 0;
  let last = 0;
  const flush = () => {
    if (count > 0) {
      ts.push(bucket + stepMs - 1);
      agg[0].push(mn);
      agg[1].push(mx);
      agg[2].push(sum);
      agg[3].push(count);
      agg[4].push(last);
    }
  };
  for (let i = 0; i < t.length; i++) {
    const x = v[i];
    if (x !== x) continue; // NaN, including stale markers
    const b = Math.floor(t[i] / stepMs) * stepMs;
    if (b !== bucket) {
      flush();
      bucket = b;
      mn = mx = sum = last = x;
      count = 1;
      continue;
    }
    if (x < mn) mn = x;
    if (x > mx) mx = x;
    sum += x;
    count++;
    last = x;
  }
  flush();
  return {
    t: Float64Array.from(ts),
    min: Float64Array.from(agg[0]),
    max: Float64Array.from(agg[1]),
    sum: Float64Array.from(agg[2]),
    count: Float64Array.from(agg[3]),
    last: Float64Array.from(agg[4]),
  };
}

/** Five length-prefixed chunks, one per aggregate. */
export function encodeRollup(r: Rollup): Uint8Array {
  const parts = ROLLUP_FIELDS.map((f) => encodeChunk(r.t, r[f]));
  const total = parts.reduce((n, p) => n + 4 + p.length, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let off = 0;
  for (const p of parts) {
    dv.setUint32(off, p.length);
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}

export function decodeRollup(data: Uint8Array): Rollup {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let off = 0;
  const cols: Float64Array[] = [];
  let t: Float64Array = new Float64Array(0);
  for (let i = 0; i < ROLLUP_FIELDS.length; i++) {
    const len = dv.getUint32(off);
    const c = decodeChunk(data.subarray(off + 4, off + 4 + len));
    if (i === 0) t = c.t;
    cols.push(c.v);
    off += 4 + len;
  }
  return { t, min: cols[0], max: cols[1], sum: cols[2], count: cols[3], last: cols[4] };
}

/** The rollup field that best stands in for raw samples under a PromQL function. */
export function rollupFieldFor(func: string | undefined): RollupField {
  if (func === 'min_over_time') return 'min';
  if (func === 'max_over_time') return 'max';
  return 'last';
}
