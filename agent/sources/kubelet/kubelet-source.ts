/**
 * The kubelet source: one `/stats/summary` fetch per tick, turned into cAdvisor-named
 * container and pod series (`job="kubelet"`, `metrics_path="/metrics/cadvisor"`).
 */
import { JOB_KUBELET, LABEL_JOB, LABEL_METRICS_PATH, METRICS_PATH_CADVISOR, errorMessage } from '../../../shared/index.js';
import type { CollectContext, MetricSink, Source } from '../source.js';
import { PodStore, type PodIndex } from '../../discovery/pod-index.js';
import { KubeletClient, KubeletError, type KubeletClientOptions } from './kubelet-client.js';
import { NOOP_KUBELET_METRICS, type KubeletSourceMetrics } from './kubelet-metrics.js';
import { SummaryLabelCache, emitSummary } from './summary-series.js';

export interface KubeletSourceOptions {
  /** How to reach the kubelet: a client, or the options to build one. */
  kubelet: KubeletClient | KubeletClientOptions;
  /** Names pods/containers and supplies `image`; absent with `--kube-api off`: names come from `podRef`. */
  podIndex?: PodIndex;
  /** Default `{job: 'kubelet', metrics_path: '/metrics/cadvisor'}`. */
  targetLabels?: Readonly<Record<string, string>>;
  /** Emit `container_pressure_*` from the summary (when no cgroup source reads PSI). Default false. */
  pressure?: boolean;
  /** Emit the node root-cgroup series (`id="/"`). Default true. */
  node?: boolean;
  metrics?: KubeletSourceMetrics;
}

/** Outcome of the last fetch, for readiness and debugging. */
export interface KubeletStatus {
  up: boolean;
  /** '' when up. */
  reason: string;
  message: string;
}

export class KubeletSource implements Source {
  readonly name = 'kubelet';
  readonly targetLabels: Readonly<Record<string, string>>;
  private readonly client: KubeletClient;
  private readonly opts: KubeletSourceOptions;
  private readonly metrics: KubeletSourceMetrics;
  private last: KubeletStatus = { up: false, reason: 'not_fetched', message: 'no fetch yet' };
  private readonly fromSummary = new PodStore();
  private readonly labels = new SummaryLabelCache();

  constructor(opts: KubeletSourceOptions) {
    this.client = opts.kubelet instanceof KubeletClient ? opts.kubelet : new KubeletClient(opts.kubelet);
    this.targetLabels = opts.targetLabels ?? { [LABEL_JOB]: JOB_KUBELET, [LABEL_METRICS_PATH]: METRICS_PATH_CADVISOR };
    this.opts = opts;
    this.metrics = opts.metrics ?? NOOP_KUBELET_METRICS;
  }

  /**
   * The pods of the last good summary, by UID (names from `podRef`; no container IDs, so
   * container lookups find nothing). With `--kube-api off` this names the cgroup source's
   * pod-level series, one tick behind the summary.
   */
  summaryPodIndex(): PodIndex {
    return this.fromSummary;
  }

  /** The last fetch's outcome. */
  status(): KubeletStatus {
    return this.last;
  }

  async collect(sink: MetricSink, ctx: CollectContext): Promise<void> {
    let summary;
    try {
      summary = await this.client.summary(ctx.signal);
    } catch (err) {
      const reason = err instanceof KubeletError ? err.reason : 'fetch_failed';
      this.fail(reason, err, ctx);
      return;
    }
    let result;
    try {
      result = emitSummary(summary, sink, { podIndex: this.opts.podIndex, pressure: this.opts.pressure, node: this.opts.node, labels: this.labels });
    } catch (err) {
      this.fail('malformed_summary', new Error(`kubelet ${this.client.summaryUrl} returned JSON that is not a stats summary: ${errorMessage(err)}`, { cause: err }), ctx);
      return;
    }
    this.last = { up: true, reason: '', message: '' };
    if (Array.isArray(summary.pods)) {
      this.fromSummary.replaceAll(
        summary.pods.flatMap((p) => (p?.podRef?.uid && p.podRef.name && p.podRef.namespace ? [{ metadata: { uid: p.podRef.uid, name: p.podRef.name, namespace: p.podRef.namespace } }] : [])),
      );
    }
    this.metrics.fetched(1, '');
    if (result.unknownPods.length > 0) {
      ctx.reportError(
        'pod_unknown',
        new Error(
          `${result.unknownPods.length} pod(s) in the kubelet summary are not in the pod watch (first: uid ${result.unknownPods[0]}); named from the summary, without image. ` +
            'Usually the watch lags a new pod by a tick; if it persists, check the agent can list/watch pods with fieldSelector spec.nodeName',
        ),
      );
    }
  }

  private fail(reason: string, err: unknown, ctx: CollectContext): void {
    this.last = { up: false, reason, message: errorMessage(err) };
    this.metrics.fetched(0, reason);
    ctx.reportError(reason, err);
  }
}
