/**
 * The kubelet source's self-metrics, behind a small interface so the source does not
 * depend on a registry; {@link registerKubeletMetrics} binds it to the agent's.
 */
import { Gauge, type Registry } from '../../metrics-registry.js';

export interface KubeletSourceMetrics {
  /**
   * The outcome of the last fetch: `up` 1 with reason '' on success, 0 with the failure
   * reason (`tls_verify`, `forbidden`, …) otherwise.
   */
  fetched(up: 0 | 1, reason: string): void;
}

export const NOOP_KUBELET_METRICS: KubeletSourceMetrics = { fetched() {} };

/**
 * Registers `kubepulse_agent_kubelet_up` (1 when the last summary fetch succeeded) and
 * `kubepulse_agent_kubelet_failure` (1 on the reason of the current failure, no series
 * while up) on `registry`.
 */
export function registerKubeletMetrics(registry: Registry): KubeletSourceMetrics {
  const up = new Gauge({ name: 'kubepulse_agent_kubelet_up', help: 'Whether the last kubelet /stats/summary fetch succeeded (1) or not (0).', registers: [registry] });
  const failure = new Gauge({
    name: 'kubepulse_agent_kubelet_failure',
    help: 'Reason the last kubelet /stats/summary fetch failed (1 on the current reason); absent while the kubelet is up.',
    labelNames: ['reason'],
    registers: [registry],
  });
  return {
    fetched(value, reason) {
      up.set(value);
      failure.reset();
      if (value === 0) failure.set({ reason }, 1);
    },
  };
}
