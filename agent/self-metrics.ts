/**
 * The agent's own metrics (`kubepulse_agent_*`), bound to the sampler's and shipper's
 * metric interfaces so neither knows the registry.
 */
import { Counter, Gauge, Histogram, type Registry } from './metrics-registry.js';
import type { SamplerMetrics } from './sampler.js';
import type { ShipperMetrics } from './shipper/shipper.js';

export function agentMetrics(registry: Registry): { sampler: SamplerMetrics; shipper: ShipperMetrics } {
  const registers = [registry];
  const sent = new Counter({ name: 'kubepulse_agent_samples_sent_total', help: 'Samples the collector accepted.', registers });
  const failed = new Counter({ name: 'kubepulse_agent_samples_failed_total', help: 'Samples in push attempts that failed and will be retried.', registers });
  const dropped = new Counter({ name: 'kubepulse_agent_samples_dropped_total', help: 'Samples given up on, by reason.', labelNames: ['reason'], registers });
  const queue = new Gauge({ name: 'kubepulse_agent_queue_length', help: 'Requests waiting to be pushed.', registers });
  const push = new Histogram({ name: 'kubepulse_agent_push_duration_seconds', help: 'Duration of one push to the collector.', buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers });
  const tick = new Histogram({ name: 'kubepulse_agent_tick_duration_seconds', help: 'Duration of one sampling tick, all sources.', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5], registers });
  const srcErr = new Counter({ name: 'kubepulse_agent_source_errors_total', help: 'Errors while reading a source, by source and reason.', labelNames: ['source', 'reason'], registers });
  const srcDur = new Histogram({ name: 'kubepulse_agent_source_duration_seconds', help: 'Duration of one source read.', labelNames: ['source'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers });
  const deadline = new Counter({ name: 'kubepulse_agent_source_deadline_exceeded_total', help: 'Ticks in which a source was cut off at its deadline.', labelNames: ['source'], registers });
  // Families with labels show up before their first event, so dashboards see zeros.
  dropped.inc({ reason: 'queue_full' }, 0);
  dropped.inc({ reason: 'rejected' }, 0);
  dropped.inc({ reason: 'spool_full' }, 0);
  const spool = new Gauge({ name: 'kubepulse_agent_spool_bytes', help: 'Bytes the on-disk spool of unsent samples holds.', registers });
  const pending = new Gauge({ name: 'kubepulse_agent_pending_samples', help: 'Samples waiting to be pushed (spooled or queued).', registers });
  return {
    sampler: {
      tickDuration: (s) => tick.observe(s),
      sourceError: (source, reason) => srcErr.inc({ source, reason }),
      sourceDuration: (source, s) => srcDur.observe({ source }, s),
      deadlineExceeded: (source) => deadline.inc({ source }),
    },
    shipper: {
      sent: (n) => sent.inc(n),
      failed: (n) => failed.inc(n),
      dropped: (reason, n) => dropped.inc({ reason }, n),
      queueLength: (n) => queue.set(n),
      pushDuration: (s) => push.observe(s),
      spoolBytes: (b) => spool.set(b),
      pendingSamples: (n) => pending.set(n),
    },
  };
}
