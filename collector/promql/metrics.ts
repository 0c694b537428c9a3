/**
 * The engine's self-metrics, `kubepulse_promql_*`, registered on the registry it is given.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type EngineMetrics = ReturnType<typeof createEngineMetrics>;

/** Creates the metrics; a registry that already has them (a second engine) gets them replaced. */
export function createEngineMetrics(registry: Registry | undefined) {
  const reg = registry ?? new Registry();
  for (const m of reg.getMetricsAsArray()) if (m.name.startsWith('kubepulse_promql_')) reg.removeSingleMetric(m.name);
  const registers = [reg];
  return {
    queries: new Counter({
      name: 'kubepulse_promql_queries_total',
      help: 'PromQL queries evaluated, by kind (instant, range) and outcome (ok, bad_data, execution, timeout, internal).',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
    duration: new Histogram({
      name: 'kubepulse_promql_query_duration_seconds',
      help: 'Wall-clock time of PromQL queries, queueing included.',
      labelNames: ['kind'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 120],
      registers,
    }),
    samples: new Counter({
      name: 'kubepulse_promql_query_samples_total',
      help: 'Samples loaded by PromQL queries.',
      registers,
    }),
    running: new Gauge({ name: 'kubepulse_promql_queries_running', help: 'PromQL queries being evaluated now.', registers }),
    queued: new Gauge({ name: 'kubepulse_promql_queries_queued', help: 'PromQL queries waiting for a free slot.', registers }),
  };
}
