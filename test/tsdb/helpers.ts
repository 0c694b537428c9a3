/**
 * Shared helpers of the TSDB tests: a seeded PRNG, a temporary data directory and a
 * bit-exact comparison of query results.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Labels } from '../../shared/index.js';
import { float64Bits, labelsFromObject, labelsToString } from '../../shared/index.js';
import type { Series } from '../../collector/storage/index.js';

/** mulberry32: small, fast, good enough for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function tempDir(prefix = 'kp-tsdb-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function ls(obj: Record<string, string>): Labels {
  return labelsFromObject(obj);
}

/** Series as plain, bit-exact data for `toEqual`. */
export function plain(series: readonly Series[]): Array<{ labels: string; t: number[]; v: string[] }> {
  return series.map((s) => ({
    labels: labelsToString(s.labels),
    t: Array.from(s.t),
    v: Array.from(s.v, (x) => float64Bits(x).toString(16)),
  }));
}

export function expectSameSeries(got: readonly Series[], want: readonly Series[], context: string): void {
  expect(plain(got), context).toEqual(plain(want));
}
