/**
 * Samples, time series and the staleness marker.
 */
import type { Labels } from './labels.js';

/** One float sample: `t` in epoch milliseconds. */
export interface Sample {
  readonly t: number;
  readonly v: number;
}

/** A series with its samples as carried by remote_write. */
export interface TimeSeries {
  readonly labels: Labels;
  readonly samples: readonly Sample[];
}

/**
 * Prometheus's stale marker: a NaN with payload 0x7ff0000000000002. Ordinary arithmetic
 * NaNs have another payload, so the bits are the only way to tell them apart.
 */
export const STALE_NAN_BITS_HI = 0x7ff00000;
export const STALE_NAN_BITS_LO = 0x00000002;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
// Float64Array's byte order is the platform's; find which word is the high one.
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;

u32[HI] = STALE_NAN_BITS_HI;
u32[LO] = STALE_NAN_BITS_LO;
/**
 * The stale marker as a JS number. V8 keeps NaN payloads when a double is stored in a
 * Float64Array or a DataView and read back, which is all the pipeline does with it.
 */
export const STALE_NAN: number = f64[0];

/** True when `v` carries exactly the stale-marker bit pattern. */
export function isStaleNaN(v: number): boolean {
  if (v === v) return false; // not NaN
  f64[0] = v;
  return u32[HI] === STALE_NAN_BITS_HI && u32[LO] === STALE_NAN_BITS_LO;
}

/** The 8 bytes of `v`, little-endian, for bit-exact tests. */
export function float64Bits(v: number): bigint {
  f64[0] = v;
  return (BigInt(u32[HI]) << 32n) | BigInt(u32[LO]);
}
