import { describe, expect, it } from 'vitest';
import { fingerprint, labelsFromObject, labelsToString, validateLabels, withLabel } from './labels.js';

describe('labels', () => {
  it('sorts and drops empty values', () => {
    expect(labelsFromObject({ z: '1', a: '2', e: '' })).toEqual([{ name: 'a', value: '2' }, { name: 'z', value: '1' }]);
  });

  it('fingerprints stably and distinguishes sets that concatenate alike', () => {
    const a = labelsFromObject({ __name__: 'up', job: 'ab' });
    expect(fingerprint(a)).toBe(fingerprint(labelsFromObject({ job: 'ab', __name__: 'up' })));
    expect(fingerprint(a)).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint(labelsFromObject({ a: 'bc' }))).not.toBe(fingerprint(labelsFromObject({ ab: 'c' })));
  });

  it.each([
    { name: 'valid', input: [{ name: '__name__', value: 'up' }, { name: 'job', value: 'x' }], want: [] },
    { name: 'missing name', input: [{ name: 'job', value: 'x' }], want: ['series without __name__ label: {job="x"}'] },
    { name: 'bad label name', input: [{ name: '__name__', value: 'up' }, { name: '0job', value: 'x' }], want: ['invalid label name "0job"'] },
    { name: 'duplicate', input: [{ name: '__name__', value: 'up' }, { name: 'a', value: '1' }, { name: 'a', value: '2' }], want: ['duplicate label name "a"'] },
    { name: 'bad metric name', input: [{ name: '__name__', value: 'up-time' }], want: ['invalid metric name "up-time"'] },
  ])('validates: $name', ({ input, want }) => {
    expect(validateLabels(input)).toEqual(want);
  });

  it('sets and removes labels keeping order', () => {
    const l = labelsFromObject({ a: '1', c: '3' });
    expect(labelsToString(withLabel(l, 'b', '2'))).toBe('{a="1", b="2", c="3"}');
    expect(withLabel(l, 'a', '')).toEqual([{ name: 'c', value: '3' }]);
  });
});
