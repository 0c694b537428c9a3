/**
 * Gorilla-style chunk encoding (Facebook's Gorilla paper, as Prometheus's `chunkenc.XORChunk`
 * uses it): delta-of-delta timestamps and XOR-ed float values, bit packed.
 *
 * Layout of an encoded chunk: a 16-bit big-endian sample count, then the bit stream.
 * First sample: timestamp and value as raw 64-bit floats. Then per sample a
 * delta-of-delta in one of five buckets (`0`, `10`+5 bits, `110`+12, `1110`+20,
 * `1111`+64 raw float bits) — smaller buckets than Prometheus's 14/17/20 bits, because
 * agent timestamps jitter by a few milliseconds around the tick and are stored exactly
 * (no alignment), so ±16 ms must be cheap — and the value XOR-ed with
 * the previous one (`0` when equal, `10` + bits inside the previous window, `11` + 5 bits
 * leading zeros + 6 bits length + bits otherwise). Values are compared bit for bit, so
 * NaN payloads (the stale marker) survive.
 */

/** Most samples one chunk holds (the count field is 16 bits). */
export const MAX_CHUNK_SAMPLES = 65_535;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Appends samples to a growable bit stream; the head keeps one per series. */
export class XorEncoder {
  private buf: Uint8Array;
  private bitLen = 16; // room for the count
  count = 0;
  mint = 0;
  maxt = 0;
  private tDelta = 0;
  private vHi = 0;
  private vLo = 0;
  private leading = 0xff;
  private trailing = 0;

  constructor(initialBytes = 32) {
    this.buf = new Uint8Array(initialBytes);
  }

  /** Bytes the encoder's buffer holds, for memory accounting. */
  get capacity(): number {
    return this.buf.length;
  }

  /** Appends one sample; `t` must be greater than the previous sample's. */
  append(t: number, v: number): void {
    f64[0] = v;
    const hi = u32[HI];
    const lo = u32[LO];
    if (this.count === 0) {
      this.mint = t;
      this.writeFloatBits(t);
      this.writeBits(hi, 32);
      this.writeBits(lo, 32);
    } else {
      const delta = t - this.maxt;
      const dod = delta - this.tDelta;
      this.tDelta = delta;
      this.writeDod(dod);
      this.writeXor(hi, lo);
    }
    this.vHi = hi;
    this.vLo = lo;
    this.maxt = t;
    this.count++;
  }

  /** A copy of the encoded chunk (count header plus bit stream). */
  bytes(): Uint8Array {
    const n = (this.bitLen + 7) >>> 3;
    const out = this.buf.slice(0, n);
    out[0] = this.count >>> 8;
    out[1] = this.count & 0xff;
    return out;
  }

  private writeDod(dod: number): void {
    if (dod === 0) {
      this.writeBits(0, 1);
    } else if (dod >= -16 && dod < 16) {
      this.writeBits(0b10, 2);
      this.writeBits(dod & 0x1f, 5);
    } else if (dod >= -2048 && dod < 2048) {
      this.writeBits(0b110, 3);
      this.writeBits(dod & 0xfff, 12);
    } else if (dod >= -524288 && dod < 524288) {
      this.writeBits(0b1110, 4);
      this.writeBits(dod & 0xfffff, 20);
    } else {
      this.writeBits(0b1111, 4);
      this.writeFloatBits(dod);
    }
  }

  private writeXor(hi: number, lo: number): void {
    const xh = (hi ^ this.vHi) >>> 0;
    const xl = (lo ^ this.vLo) >>> 0;
    if (xh === 0 && xl === 0) {
      this.writeBits(0, 1);
      return;
    }
    let lead = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl);
    const trail = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh);
    if (lead > 31) lead = 31;
    if (this.leading !== 0xff && lead >= this.leading && trail >= this.trailing) {
      this.writeBits(0b10, 2);
      this.writeSignificant(xh, xl, this.trailing, 64 - this.leading - this.trailing);
      return;
    }
    this.leading = lead;
    this.trailing = trail;
    const sig = 64 - lead - trail;
    this.writeBits(0b11, 2);
    this.writeBits(lead, 5);
    this.writeBits(sig & 63, 6); // 64 significant bits is written as 0
    this.writeSignificant(xh, xl, trail, sig);
  }

  private writeSignificant(xh: number, xl: number, shift: number, sig: number): void {
    let sh: number;
    let sl: number;
    if (shift === 0) {
      sh = xh;
      sl = xl;
    } else if (shift >= 32) {
      sh = 0;
      sl = xh >>> (shift - 32);
    } else {
      sl = ((xl >>> shift) | (xh << (32 - shift))) >>> 0;
      sh = xh >>> shift;
    }
    if (sig > 32) {
      this.writeBits(sh, sig - 32);
      this.writeBits(sl, 32);
    } else {
      this.writeBits(sl, sig);
    }
  }

  private writeFloatBits(x: number): void {
    f64[0] = x;
    const hi = u32[HI];
    const lo = u32[LO];
    this.writeBits(hi, 32);
    this.writeBits(lo, 32);
  }

  /** Writes the low `n` bits of `v` (n ≤ 32), most significant first. */
  private writeBits(v: number, n: number): void {
    const need = (this.bitLen + n + 7) >>> 3;
    if (need > this.buf.length) {
      const next = new Uint8Array(Math.max(need, this.buf.length * 2));
      next.set(this.buf);
      this.buf = next;
    }
    while (n > 0) {
      const pos = this.bitLen;
      const free = 8 - (pos & 7);
      const take = free < n ? free : n;
      const bits = (v >>> (n - take)) & ((1 << take) - 1);
      this.buf[pos >>> 3] |= bits << (free - take);
      n -= take;
      this.bitLen += take;
    }
  }
}

/** Decoded samples of one chunk. */
export interface DecodedChunk {
  t: Float64Array;
  v: Float64Array;
}

/** Number of samples in an encoded chunk, without decoding it. */
export function chunkCount(data: Uint8Array): number {
  return (data[0] << 8) | data[1];
}

/** Decodes a whole chunk; throws on a truncated stream. */
export function decodeChunk(data: Uint8Array): DecodedChunk {
  const n = chunkCount(data);
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  decodeChunkInto(data, t, v, 0);
  return { t, v };
}

/** The chunk being decoded, copied here with zeroed padding so that word reads never go out of bounds. */
let scratch = new Uint8Array(4096);

/**
 * Decodes a whole chunk into `ts`/`vs` from index `off` (they must have room for
 * {@link chunkCount} samples); returns the number of samples. Throws on a truncated stream.
 *
 * This is the read path's inner loop (a 1,000-series day is 8.6 M samples), so the bit
 * reader is inlined: each field is cut from a 32-bit big-endian window read at the bit
 * position (five byte loads from a padded copy of the chunk), and the value is rebuilt
 * only when its XOR is not zero.
 */
export function decodeChunkInto(data: Uint8Array, ts: Float64Array, vs: Float64Array, off: number): number {
  const n = chunkCount(data);
  if (n === 0) return 0;
  const len = data.length;
  if (scratch.length < len + 8) scratch = new Uint8Array(Math.max(len + 8, scratch.length * 2));
  const d = scratch;
  d.set(data);
  d.fill(0, len, len + 8);
  const bits = len * 8;
  let pos = 16;
  let i = 0;
  let w = 0;
  let s = 0;
  // First sample: raw timestamp and value bits.
  i = pos >>> 3;
  u32[HI] = (d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3];
  u32[LO] = (d[i + 4] << 24) | (d[i + 5] << 16) | (d[i + 6] << 8) | d[i + 7];
  let t = f64[0];
  let hi = (d[i + 8] << 24) | (d[i + 9] << 16) | (d[i + 10] << 8) | d[i + 11];
  let lo = (d[i + 12] << 24) | (d[i + 13] << 16) | (d[i + 14] << 8) | d[i + 15];
  pos += 128;
  ts[off] = t;
  u32[HI] = hi;
  u32[LO] = lo;
  let v = f64[0];
  vs[off] = v;
  let delta = 0;
  let leading = 0;
  let trailing = 0;
  for (let k = 1; k < n; k++) {
    // Timestamp: the delta-of-delta bucket is the number of leading 1 bits (at most 4).
    i = pos >>> 3;
    s = pos & 7;
    w = (d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3];
    if (s !== 0) w = (w << s) | (d[i + 4] >>> (8 - s));
    // The value's control bits (13 at most) follow in the same window unless the
    // delta-of-delta took 20 bits or more.
    if (w >= 0) {
      pos += 1;
      w <<= 1;
    } else if ((w & 0x40000000) === 0) {
      delta += (w << 2) >> 27;
      pos += 7;
      w <<= 7;
    } else if ((w & 0x20000000) === 0) {
      delta += (w << 3) >> 20;
      pos += 15;
      w <<= 15;
    } else {
      if ((w & 0x10000000) === 0) {
        delta += (w << 4) >> 12;
        pos += 24;
      } else {
        pos += 4;
        delta += readFloatAt(d, pos);
        pos += 64;
      }
      i = pos >>> 3;
      s = pos & 7;
      w = (d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3];
      if (s !== 0) w = (w << s) | (d[i + 4] >>> (8 - s));
    }
    t += delta;
    ts[off + k] = t;
    // Value: `0` unchanged, `10` inside the previous window, `11` new window.
    if (w >= 0) {
      pos += 1;
      vs[off + k] = v;
      continue;
    }
    if ((w & 0x40000000) !== 0) {
      leading = (w >>> 25) & 31;
      let sig = (w >>> 19) & 63;
      if (sig === 0) sig = 64;
      trailing = 64 - leading - sig;
      pos += 13;
    } else {
      pos += 2;
    }
    const sig = 64 - leading - trailing;
    let sh = 0;
    let sl: number;
    if (sig > 32) {
      sh = readBitsAt(d, pos, sig - 32);
      sl = readBitsAt(d, pos + sig - 32, 32);
    } else {
      sl = readBitsAt(d, pos, sig);
    }
    pos += sig;
    let xh: number;
    let xl: number;
    if (trailing === 0) {
      xh = sh;
      xl = sl;
    } else if (trailing >= 32) {
      xh = sl << (trailing - 32);
      xl = 0;
    } else {
      xh = (sh << trailing) | (sl >>> (32 - trailing));
      xl = sl << trailing;
    }
    hi ^= xh;
    lo ^= xl;
    u32[HI] = hi;
    u32[LO] = lo;
    v = f64[0];
    vs[off + k] = v;
  }
  if (pos > bits) throw new RangeError('truncated chunk');
  return n;
}

/** `n` bits (1 ≤ n ≤ 32) at bit `pos` of `d`, unsigned. */
function readBitsAt(d: Uint8Array, pos: number, n: number): number {
  const i = pos >>> 3;
  const s = pos & 7;
  let w = (d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3];
  if (s !== 0) w = (w << s) | (d[i + 4] >>> (8 - s));
  return w >>> (32 - n);
}

/** The 64 bits at bit `pos` of `d` as a float. */
function readFloatAt(d: Uint8Array, pos: number): number {
  u32[HI] = readBitsAt(d, pos, 32);
  u32[LO] = readBitsAt(d, pos + 32, 32);
  return f64[0];
}

/** Encodes sorted samples (strictly increasing `t`) into one chunk. */
export function encodeChunk(t: ArrayLike<number>, v: ArrayLike<number>, from = 0, to = t.length): Uint8Array {
  if (to - from > MAX_CHUNK_SAMPLES) throw new RangeError(`chunk of ${to - from} samples exceeds ${MAX_CHUNK_SAMPLES}`);
  const enc = new XorEncoder(Math.max(32, (to - from) * 2));
  for (let i = from; i < to; i++) enc.append(t[i], v[i]);
  return enc.bytes();
}
