import { describe, expect, it } from 'vitest';
import { Counter, Registry } from 'prom-client';
import { getLabel } from '../shared/index.js';
import { MemoryStorage } from './storage/index.js';
import { scrapeOnce } from './self-scrape.js';

describe('self-scrape', () => {
  it('stores the registry as series with the target labels, at one timestamp', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'kubepulse_test_things_total', help: 'Things.', labelNames: ['kind'], registers: [registry] });
    c.inc({ kind: 'a' }, 3);
    const store = new MemoryStorage();
    const n = await scrapeOnce({ registry, appendable: store, targetLabels: { job: 'kubepulse-collector', instance: 'h:9190', cluster: 'c1' }, intervalMs: 15_000, now: () => 5000 });
    expect(n).toBe(1);
    const [s] = store.querier(0, 10_000).select([{ type: '=', name: '__name__', value: 'kubepulse_test_things_total' }]);
    expect(Object.fromEntries(s.labels.map((l) => [l.name, l.value]))).toEqual({ __name__: 'kubepulse_test_things_total', job: 'kubepulse-collector', instance: 'h:9190', cluster: 'c1', kind: 'a' });
    expect([...s.t]).toEqual([5000]);
    expect([...s.v]).toEqual([3]);
    expect(store.metadata().get('kubepulse_test_things_total')?.type).toBe('counter');
    expect(getLabel(s.labels, 'job')).toBe('kubepulse-collector');
  });
});
