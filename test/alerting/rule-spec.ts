/** The alerting rule most rule tests start from: `HighLoad`, `load > 1`, one label, one annotation. */
import type { RuleSpec } from '../../collector/rules/rule-file.js';

export function alertSpec(over: Partial<RuleSpec> = {}): RuleSpec {
  return {
    kind: 'alert',
    name: 'HighLoad',
    expr: 'load > 1',
    forMs: 0,
    keepFiringForMs: 0,
    labels: { severity: 'warning' },
    annotations: { summary: '{{ $labels.instance }} load {{ $value }}' },
    file: 'test.yml',
    line: 1,
    ...over,
  };
}
