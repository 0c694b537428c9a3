import { describe, expect, it } from 'vitest';
import { decodeChunk, encodeChunk, XorEncoder } from '../../collector/tsdb/xor-chunk.js';
import { decodeWal, encodeWal } from '../../collector/tsdb/wal-codec.js';
import { computeRollup, decodeRollup, encodeRollup } from '../../collector/tsdb/rollup.js';
import { float64Bits, STALE_NAN } from '../../shared/index.js';
import { rng } from './helpers.js';

const bits = (a: ArrayLike<number>) => Array.from(a, (x) => float64Bits(x).toString(16));

const SPECIAL = [0, -0, NaN, STALE_NAN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, -1.5, 2 ** 53, 1e-300];

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
