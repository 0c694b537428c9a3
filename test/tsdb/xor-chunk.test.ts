import { describe, expect, it } from 'vitest';
import { chunkCount, decodeChunk, decodeChunkInto, encodeChunk, XorEncoder } from '../../collector/tsdb/xor-chunk.js';
import { decodeWal, encodeWal } from '../../collector/tsdb/wal-codec.js';
import { computeRollup, decodeRollup, encodeRollup } from '../../collector/tsdb/rollup.js';
import { float64Bits, STALE_NAN } from '../../shared/index.js';
import { rng } from './helpers.js';

const bits = (a: ArrayLike<number>) => Array.from(a, (x) => float64Bits(x).toString(16));

const SPECIAL = [0, -0, NaN, STALE_NAN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, -1.5, 2 ** 53, 1e-300];

/**
 * The chunk format decoded one bit at a time with BigInt, as plainly as the layout in
 * xor-chunk.ts describes it: the specification the fast decoder is checked against.
 */
function referenceDecode(data: Uint8Array): { t: number[]; v: bigint[] } {
  let pos = 16;
  const bit = () => {
    if (pos >= data.length * 8) throw new RangeError('truncated chunk');
    const b = (data[pos >>> 3] >>> (7 - (pos & 7))) & 1;
    pos++;
    return b;
  };
  const bitsOf = (n: number) => {
    let x = 0n;
    for (let i = 0; i < n; i++) x = (x << 1n) | BigInt(bit());
    return x;
  };
  const asFloat = (x: bigint) => new Float64Array(new BigUint64Array([x]).buffer)[0];
  const signed = (x: bigint, n: number) => Number(BigInt.asIntN(n, x));
  const n = (data[0] << 8) | data[1];
  const t: number[] = [];
  const v: bigint[] = [];
  let ts = 0;
  let delta = 0;
  let val = 0n;
  let leading = 0;
  let trailing = 0;
  for (let i = 0; i < n; i++) {
    if (i === 0) {
      ts = asFloat(bitsOf(64));
      val = bitsOf(64);
    } else {
      let ones = 0;
      while (ones < 4 && bit() === 1) ones++;
      const dod = [() => 0, () => signed(bitsOf(5), 5), () => signed(bitsOf(12), 12), () => signed(bitsOf(20), 20), () => asFloat(bitsOf(64))][ones]();
      delta += dod;
      ts += delta;
      if (bit() === 1) {
        if (bit() === 1) {
          leading = Number(bitsOf(5));
          const sig = Number(bitsOf(6)) || 64;
          trailing = 64 - leading - sig;
        }
        val ^= bitsOf(64 - leading - trailing) << BigInt(trailing);
      }
    }
    t.push(ts);
    v.push(val);
  }
  return { t, v };
}

/** Samples that hit every timestamp bucket and every value case. */
function randomSamples(seed: number): { t: number[]; v: Float64Array } {
  const r = rng(seed);
  const n = 1 + Math.floor(r() * 2000);
  const t: number[] = [];
  const v = new Float64Array(n);
  let ts = Math.floor((r() - 0.5) * 2e12);
  let x = r() * 1000;
  for (let i = 0; i < n; i++) {
    const jump = [0, 7, 1000, 300_000, 5e9][Math.floor(r() * 5)];
    ts += 10_000 + Math.floor((r() - 0.5) * 2 * jump) + (r() < 0.05 ? Math.floor(r() * 1e11) : 0);
    t.push(ts);
    const vm = r();
    if (vm < 0.3) x += Math.floor(r() * 100);
    else if (vm < 0.45) x = r() * 1e6;
    else if (vm < 0.55) x = SPECIAL[Math.floor(r() * SPECIAL.length)];
    else if (vm < 0.65) x = -x * 3.7;
    v[i] = x;
  }
  return { t, v };
}

describe('xor chunk', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('round-trips random samples bit for bit (seed %i)', (seed) => {
    const r = rng(seed);
    const n = 1 + Math.floor(r() * 3000);
    const t: number[] = [];
    const v = new Float64Array(n);
    let ts = Math.floor((r() - 0.5) * 2e12);
    let x = r() * 1000;
    for (let i = 0; i < n; i++) {
      const mode = r();
      // Regular ticks with jitter, and now and then a jump of any size.
      ts += mode < 0.8 ? 10_000 + Math.floor((r() - 0.5) * 40) : 1 + Math.floor(r() * 10 ** (1 + Math.floor(r() * 11)));
      t.push(ts);
      const vm = r();
      if (vm < 0.3) x += Math.floor(r() * 100);
      else if (vm < 0.5) x = r() * 1e6;
      else if (vm < 0.6) x = SPECIAL[Math.floor(r() * SPECIAL.length)];
      v[i] = x;
    }
    const c = decodeChunk(encodeChunk(t, v));
    expect(Array.from(c.t)).toEqual(t);
    expect(bits(c.v)).toEqual(bits(v));
  });

  it('packs regular samples tightly: constant gauges in bits, counters in under 2 bytes', () => {
    const counter = new XorEncoder();
    const constant = new XorEncoder();
    let x = 0;
    for (let i = 0; i < 720; i++) {
      counter.append(1_700_000_000_000 + i * 10_000, (x += 5));
      constant.append(1_700_000_000_000 + i * 10_000, 42);
    }
    expect(counter.bytes().length / 720).toBeLessThan(2);
    expect(constant.bytes().length / 720).toBeLessThan(0.3);
  });

  it('reads the snapshot of an encoder that keeps growing', () => {
    const enc = new XorEncoder(4);
    for (let i = 0; i < 100; i++) {
      enc.append(i * 1000, i / 3);
      const c = decodeChunk(enc.bytes());
      expect(c.t.length).toBe(i + 1);
      expect(c.v[i]).toBe(i / 3);
    }
  });

  it.each([11, 12, 13, 14, 15, 16])('decodes like the bit-by-bit reference (seed %i)', (seed) => {
    const { t, v } = randomSamples(seed);
    const data = encodeChunk(t, v);
    const ref = referenceDecode(data);
    const c = decodeChunk(data);
    expect(Array.from(c.t)).toEqual(ref.t);
    expect(Array.from(new BigUint64Array(c.v.buffer, c.v.byteOffset, c.v.length))).toEqual(ref.v);
    expect(Array.from(c.t)).toEqual(t);
  });

  it('reads the stored format unchanged (a chunk written by the first release)', () => {
    // Buckets: dod 0, ±16, ±2048, ±2^19 and raw; values equal, in window, new window, -0, NaN.
    const hex =
      '00084278bcfe568000003ff0000000000000e0271043d80ed61f60e7f21e44003acf87df07dfc6fc8791000eb3f3bc0e5fff0000000000007a0cbcc011800000047f7a000000000007e0cbdaf538000000400004000000000000';
    const c = decodeChunk(Buffer.from(hex, 'hex'));
    expect(Array.from(c.t)).toEqual([
      1_700_000_000_000, 1_700_000_010_000, 1_700_000_020_003, 1_700_000_030_000, 1_700_000_040_500, 1_700_000_540_500, 1_700_100_000_000, 1_700_100_010_000,
    ]);
    expect(bits(c.v)).toEqual(bits([1, 1, 1.5, 1e300, -0, NaN, 42, 42.25]));
    expect(Buffer.from(encodeChunk(c.t, c.v)).toString('hex')).toBe(hex);
  });

  it('decodes at an offset, and a small chunk right after a large one', () => {
    const big = randomSamples(21);
    const small = { t: [5, 6, 9], v: [0.5, STALE_NAN, 7] };
    const a = encodeChunk(big.t, big.v);
    const b = encodeChunk(small.t, small.v);
    const t = new Float64Array(chunkCount(a) + chunkCount(b) + 1);
    const v = new Float64Array(t.length);
    expect(decodeChunkInto(a, t, v, 1)).toBe(big.t.length);
    expect(decodeChunkInto(b, t, v, 1 + big.t.length)).toBe(3);
    expect(Array.from(t.subarray(1))).toEqual([...big.t, ...small.t]);
    expect(bits(v.subarray(1))).toEqual(bits([...big.v, ...small.v]));
    // The large chunk's bytes are still in the decoder's buffer: a cut-off small one must not read them.
    decodeChunk(a);
    for (let cut = 2; cut < b.length; cut++) expect(() => decodeChunk(b.subarray(0, cut)), `cut at ${cut}`).toThrow(/truncated/);
  });

  it('throws on a truncated chunk', () => {
    const data = encodeChunk([1, 2, 3], [1.5, 2.25, 3.125]);
    expect(() => decodeChunk(data.subarray(0, 5))).toThrow(/truncated/);
  });
});

describe('wal record', () => {
  it.each([
    { name: 'narrow', span: 1e6 },
    { name: 'wide', span: 1e12 },
  ])('round-trips $name timestamps bit for bit', ({ span }) => {
    const r = rng(7);
    const n = 500;
    const ids = Array.from({ length: n }, () => Math.floor(r() * 1e6));
    const t = Array.from({ length: n }, () => 1.7e12 + Math.floor(r() * span));
    const v = new Float64Array(n).map((_, i) => (i % 7 === 0 ? STALE_NAN : r()));
    const w = decodeWal(encodeWal(ids, t, v, n));
    expect(Array.from(w.ids)).toEqual(ids);
    expect(Array.from(w.t)).toEqual(t);
    expect(bits(w.v)).toEqual(bits(v));
  });

  it('refuses a record whose length does not match its count', () => {
    const data = encodeWal([1], [2], [3], 1);
    expect(() => decodeWal(data.subarray(0, data.length - 8))).toThrow(/does not hold/);
  });
});

describe('rollup', () => {
  it('aggregates 5-minute buckets, skipping NaN and stale markers', () => {
    const t = Float64Array.from([0, 60_000, 120_000, 299_999, 300_000, 360_000]);
    const v = Float64Array.from([3, 1, NaN, STALE_NAN, 10, 20]);
    const r = decodeRollup(encodeRollup(computeRollup(t, v)));
    expect(Array.from(r.t)).toEqual([299_999, 599_999]);
    expect(Array.from(r.min)).toEqual([1, 10]);
    expect(Array.from(r.max)).toEqual([3, 20]);
    expect(Array.from(r.sum)).toEqual([4, 30]);
    expect(Array.from(r.count)).toEqual([2, 2]);
    expect(Array.from(r.last)).toEqual([1, 20]);
  });
});
