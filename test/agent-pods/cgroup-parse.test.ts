/**
 * The in-place parsers the cgroup source reads with give what the split-and-map
 * parser gives, on this machine's real files and on odd content.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { flatKeyedValue, parseFlatKeyed, parsePressure } from '../../agent/sources/cgroup/parse.js';

const real = ['/sys/fs/cgroup/memory/memory.stat', '/sys/fs/cgroup/cpu/cpu.stat', '/sys/fs/cgroup/memory.stat', '/sys/fs/cgroup/cpu.stat', '/proc/vmstat'].filter((f) => existsSync(f));

describe('flatKeyedValue', () => {
  it('agrees with parseFlatKeyed for every key of real flat-keyed files', () => {
    expect(real.length).toBeGreaterThan(0);
    for (const f of real) {
      const text = readFileSync(f, 'latin1');
      const m = parseFlatKeyed(text);
      expect(m.size).toBeGreaterThan(0);
      for (const [k, v] of m) expect(flatKeyedValue(text, k), `${f} ${k}`).toBe(v);
    }
  });

  it('matches whole keys at line starts only, and leaves out what is not a number', () => {
    const text = 'total_cache 5\ncache 7\nnr_throttled x\nanon 3';
    expect(flatKeyedValue(text, 'cache')).toBe(7);
    expect(flatKeyedValue(text, 'total_cache')).toBe(5);
    expect(flatKeyedValue(text, 'anon')).toBe(3);
    expect(flatKeyedValue(text, 'nr_throttled')).toBeUndefined();
    expect(flatKeyedValue(text, 'file')).toBeUndefined();
    expect(flatKeyedValue('', 'file')).toBeUndefined();
  });
});

describe('parsePressure', () => {
  it('reads the some and full totals', () => {
    expect(parsePressure('some avg10=0.00 avg60=0.10 avg300=0.00 total=12345\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=678\n')).toEqual({ some: 12345, full: 678 });
    expect(parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=9\n')).toEqual({ some: 9 });
    expect(parsePressure('full avg10=0.00 xtotal=5\n')).toEqual({});
    expect(parsePressure('garbage')).toEqual({});
  });
});
