/**
 * The record format of one write-ahead-log row: the in-order samples of one commit.
 *
 * Layout (little-endian, 8-byte aligned sections): u32 count, u32 flags, f64 base time,
 * u32 series ids (padded to 8 bytes), then timestamps — i32 offsets from the base when
 * they fit (flags = 0), f64 otherwise (flags = 1) — padded to 8 bytes, then f64 values.
 * Values are copied as raw float bits, so NaN payloads (stale markers) survive.
 */

export interface WalSamples {
  ids: Uint32Array;
  t: Float64Array;
  v: Float64Array;
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** Encodes `n` samples; the arrays may be longer than `n`. */
export function encodeWal(ids: ArrayLike<number>, t: ArrayLike<number>, v: ArrayLike<number>, n: number): Uint8Array {
  let base = n > 0 ? t[0] : 0;
  let wide = false;
  for (let i = 0; i < n; i++) if (t[i] < base) base = t[i];
  for (let i = 0; i < n; i++) {
    if (t[i] - base > 0x7fffffff) {
      wide = true;
      break;
    }
  }
  const idBytes = pad8(4 * n);
  const tBytes = wide ? 8 * n : pad8(4 * n);
  const buf = new ArrayBuffer(16 + idBytes + tBytes + 8 * n);
  const head = new Uint32Array(buf, 0, 2);
  head[0] = n;
  head[1] = wide ? 1 : 0;
  new Float64Array(buf, 8, 1)[0] = base;
  const idv = new Uint32Array(buf, 16, n);
  for (let i = 0; i < n; i++) idv[i] = ids[i];
  if (wide) {
    const tv = new Float64Array(buf, 16 + idBytes, n);
    for (let i = 0; i < n; i++) tv[i] = t[i];
  } else {
    const tv = new Int32Array(buf, 16 + idBytes, n);
    for (let i = 0; i < n; i++) tv[i] = t[i] - base;
  }
  const vv = new Float64Array(buf, 16 + idBytes + tBytes, n);
  for (let i = 0; i < n; i++) vv[i] = v[i];
  return new Uint8Array(buf);
}

/** Decodes a record written by {@link encodeWal}; throws on a malformed one. */
export function decodeWal(data: Uint8Array): WalSamples {
  // A fresh, aligned copy: SQLite hands out buffers at arbitrary offsets.
  const buf = data.slice().buffer;
  if (buf.byteLength < 16) throw new RangeError('wal record shorter than its header');
  const head = new Uint32Array(buf, 0, 2);
  const n = head[0];
  const wide = head[1] === 1;
  const base = new Float64Array(buf, 8, 1)[0];
  const idBytes = pad8(4 * n);
  const tBytes = wide ? 8 * n : pad8(4 * n);
  if (buf.byteLength !== 16 + idBytes + tBytes + 8 * n) throw new RangeError(`wal record of ${buf.byteLength} bytes does not hold ${n} samples`);
  const ids = new Uint32Array(buf, 16, n);
  let t: Float64Array;
  if (wide) t = new Float64Array(buf, 16 + idBytes, n);
  else {
    const off = new Int32Array(buf, 16 + idBytes, n);
    t = new Float64Array(n);
    for (let i = 0; i < n; i++) t[i] = base + off[i];
  }
  const v = new Float64Array(buf, 16 + idBytes + tBytes, n);
  return { ids, t, v };
}
