import { it } from 'vitest';
import { buildDataset, mixinRuleExprs } from '/work/main/test/promql/synthetic-data.js';
it('size', () => {
  const rules = mixinRuleExprs();
  const END = Date.UTC(2025,0,1); 
  const s = buildDataset(rules.map(r=>r.expr), { nodes: 10, podsPerNode: 10, start: END - 3600_000, end: END, intervalMs: 60_000 });
  const names = new Set(s.map(x => x.labels.find(l=>l.name==='__name__')!.value));
  console.log('series', s.length, 'names', names.size, 'rules', rules.length);
});
