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

/**
 * Decodes a whole chunk into `ts`/`vs` from index `off` (they must have room for
 * {@link chunkCount} samples); returns the number of samples. Throws on a truncated stream.
 */
export function decodeChunkInto(data: Uint8Array, ts: Float64Array, vs: Float64Array, off: number): number {
  const n = chunkCount(data);
  const r = new BitReader(data);
  let t = 0;
  let delta = 0;
  let hi = 0;
  let lo = 0;
  let leading = 0;
  let trailing = 0;
  for (let i = 0; i < n; i++) {
    if (i === 0) {
      t = r.readFloat();
      hi = r.read(32);
      lo = r.read(32);
    } else {
      // The bucket is the number of leading 1 bits, at most 4.
      let ones = 0;
      while (ones < 4 && r.readBit() === 1) ones++;
      const dod = ones === 0 ? 0 : ones === 4 ? r.readFloat() : signExtend(r.read(DOD_BITS[ones]), DOD_BITS[ones]);
      delta += dod;
      t += delta;
      if (r.readBit() === 1) {
        if (r.readBit() === 1) {
          leading = r.read(5);
          let sig = r.read(6);
          if (sig === 0) sig = 64;
          trailing = 64 - leading - sig;
        }
        const sig = 64 - leading - trailing;
        let sh = 0;
        let sl: number;
        if (sig > 32) {
          sh = r.read(sig - 32);
          sl = r.read(32);
        } else {
          sl = r.read(sig);
        }
        let xh: number;
        let xl: number;
        if (trailing === 0) {
          xh = sh;
          xl = sl;
        } else if (trailing >= 32) {
          xh = (sl << (trailing - 32)) >>> 0;
          xl = 0;
        } else {
          xh = ((sh << trailing) | (sl >>> (32 - trailing))) >>> 0;
          xl = (sl << trailing) >>> 0;
        }
        hi = (hi ^ xh) >>> 0;
        lo = (lo ^ xl) >>> 0;
      }
    }
    ts[off + i] = t;
    u32[HI] = hi;
    u32[LO] = lo;
    vs[off + i] = f64[0];
  }
  if (r.overrun) throw new RangeError('truncated chunk');
  return n;
}

/** Encodes sorted samples (strictly increasing `t`) into one chunk. */
export function encodeChunk(t: ArrayLike<number>, v: ArrayLike<number>, from = 0, to = t.length): Uint8Array {
  if (to - from > MAX_CHUNK_SAMPLES) throw new RangeError(`chunk of ${to - from} samples exceeds ${MAX_CHUNK_SAMPLES}`);
  const enc = new XorEncoder(Math.max(32, (to - from) * 2));
  for (let i = from; i < to; i++) enc.append(t[i], v[i]);
  return enc.bytes();
}

const DOD_BITS = [0, 5, 12, 20];

function signExtend(x: number, bits: number): number {
  const shift = 32 - bits;
  return (x << shift) >> shift;
}

/**
 * Reads big-endian bit fields. Reads past the end yield zeros; the caller checks
 * {@link BitReader.overrun} once at the end instead of a bounds check per field.
 */
class BitReader {
  private pos = 16;
  private readonly bits: number;
  private readonly d: Uint8Array;
  constructor(data: Uint8Array) {
    this.bits = data.length * 8;
    // Padded so that the 4-byte window below never reads out of bounds.
    this.d = new Uint8Array(data.length + 8);
    this.d.set(data);
  }

  get overrun(): boolean {
    return this.pos > this.bits;
  }

  readBit(): number {
    const p = this.pos++;
    return (this.d[p >>> 3] >>> (7 - (p & 7))) & 1;
  }

  /** Reads `n` bits (n ≤ 32) as an unsigned number. */
  read(n: number): number {
    if (n > 24) {
      const hi = this.read(n - 16);
      return hi * 65536 + this.read(16);
    }
    if (n === 0) return 0;
    const p = this.pos;
    this.pos = p + n;
    const d = this.d;
    const i = p >>> 3;
    const w = (d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3];
    return (w << (p & 7)) >>> (32 - n);
  }

  readFloat(): number {
    u32[HI] = this.read(32);
    u32[LO] = this.read(32);
    return f64[0];
  }
}
