import { describe, expect, it } from 'vitest';
import { fingerprint, labelsFromObject } from '../../shared/index.js';
import { alertFingerprint } from './alert.js';

describe('alertFingerprint', () => {
  it('equals the shared BigInt FNV-1a fingerprint, for ASCII, UTF-8 and empty values', () => {
    const cases: Array<Record<string, string>> = [
      {},
      { alertname: 'KubePodCrashLooping', namespace: 'kube-system', pod: 'coredns-5d78c9869d-abcde', severity: 'warning' },
      { a: 'ü', b: 'mixed ascii → unicode 日本語', c: '😀 emoji', d: '' },
      { '\u00ff': 'x\xffy' },
    ];
    // Seeded pseudo-random label sets over every byte-length class of UTF-8.
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const alphabet = ['a', 'Z', '0', '_', ' ', '\x7f', 'é', 'ß', '€', '中', '𝄞'];
    for (let i = 0; i < 200; i++) {
      const o: Record<string, string> = {};
      for (let j = rnd(6); j >= 0; j--) {
        let k = 'l';
        let v = '';
        for (let m = rnd(8); m > 0; m--) k += alphabet[rnd(4)];
        for (let m = rnd(20); m > 0; m--) v += alphabet[rnd(alphabet.length)];
        o[k] = v;
      }
      cases.push(o);
    }
    for (const c of cases) expect(alertFingerprint(c), JSON.stringify(c)).toBe(fingerprint(labelsFromObject(c)));
  });

  it('gives the FNV-1a 64 offset basis for an empty set and differs for different sets', () => {
    expect(alertFingerprint({})).toBe('cbf29ce484222325');
    expect(alertFingerprint({ a: 'b' })).not.toBe(alertFingerprint({ a: 'c' }));
  });
});
