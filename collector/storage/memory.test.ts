import { describe, expect, it } from 'vitest';
import { float64Bits, labelsFromObject, STALE_NAN } from '../../shared/index.js';
import { MemoryStorage } from './memory.js';

describe('MemoryStorage', () => {
  it('keeps samples sorted, stale markers bit for bit, and refuses a changed value at a stored timestamp', () => {
    const st = new MemoryStorage();
    const l = labelsFromObject({ __name__: 'x' });
    const a = st.appender();
    for (const t of [30, 10, 20, 40]) a.append(l, t, t === 20 ? STALE_NAN : t);
    a.commit();
    const [s] = st.querier(0, 100).select([{ type: '=', name: '__name__', value: 'x' }]);
    expect([...s.t]).toEqual([10, 20, 30, 40]);
    expect(float64Bits(s.v[1])).toBe(0x7ff0000000000002n);
    expect([s.v[0], s.v[2], s.v[3]]).toEqual([10, 30, 40]);
    const b = st.appender();
    b.append(l, 30, 30); // identical: fine
    expect(() => b.append(l, 30, 31)).toThrow(/different value/);
  });
});
