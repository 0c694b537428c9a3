/**
 * Self-metrics of the rules engine, registered on the registry passed in (Prometheus's
 * `prometheus_rule_*` set under kubepulse's names).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface RuleMetrics {
  readonly evalTotal: Counter<'rule_group'>;
  readonly evalFailures: Counter<'rule_group'>;
  readonly evalDuration: Histogram<'rule_group'>;
  readonly lastEval: Gauge<'rule_group'>;
  readonly reloads: Counter<'result'>;
  readonly reloadSuccess: Gauge;
  readonly rules: Gauge;
}

/** Creates the metrics; registers them only on `registry` (none: unregistered). */
export function createRuleMetrics(registry?: Registry): RuleMetrics {
  const registers = registry ? [registry] : [];
  return {
    evalTotal: new Counter({ name: 'kubepulse_rules_group_evaluations_total', help: 'Rule group evaluations.', labelNames: ['rule_group'], registers }),
    evalFailures: new Counter({ name: 'kubepulse_rules_evaluation_failures_total', help: 'Rule evaluations that failed.', labelNames: ['rule_group'], registers }),
    evalDuration: new Histogram({
      name: 'kubepulse_rules_group_evaluation_duration_seconds',
      help: 'Time one evaluation of a rule group took.',
      labelNames: ['rule_group'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    lastEval: new Gauge({ name: 'kubepulse_rules_group_last_evaluation_timestamp_seconds', help: 'Time of the last evaluation of a rule group.', labelNames: ['rule_group'], registers }),
    reloads: new Counter({ name: 'kubepulse_rules_reloads_total', help: 'Rule configuration reloads by result.', labelNames: ['result'], registers }),
    reloadSuccess: new Gauge({ name: 'kubepulse_rules_last_reload_successful', help: '1 when the last rule reload succeeded.', registers }),
    rules: new Gauge({ name: 'kubepulse_rules_loaded', help: 'Rules loaded.', registers }),
  };
}
