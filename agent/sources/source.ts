/**
 * The contract between the sampler and the things it samples. A source reads one kind
 * of node data and emits samples into a {@link MetricSink}; it knows nothing of batching,
 * transport or the collector.
 */
import type { MetricTypeName } from '../../shared/index.js';

/**
 * Where a source puts what it read during one tick. Cheap to call; never throws.
 * Target labels (`cluster`, `node`, `instance` and the source's `job`) are added by
 * the sampler: sources give only the series' own labels.
 */
export interface MetricSink {
  /** Declares a family's type and help; the first declaration of a tick wins. */
  family(name: string, type: MetricTypeName, help: string): void;
  /**
   * One sample of family `name`. `labels` may be reused by the caller after the call.
   * `t` defaults to the tick's timestamp (epoch ms).
   */
  add(name: string, labels: Readonly<Record<string, string>>, value: number, t?: number): void;
}

/** What a source gets for each tick. */
export interface CollectContext {
  /** The tick's timestamp, epoch ms: every sample of a tick carries it by default. */
  readonly now: number;
  /** Aborted when the tick's deadline passes: stop reading and return. */
  readonly signal: AbortSignal;
  /**
   * Counts one error of this source (`kubepulse_agent_source_errors_total{source,reason}`)
   * and logs it once per distinct reason; the tick goes on.
   */
  reportError(reason: string, err: unknown): void;
}

export interface Source {
  /** Short stable name: the `source` label of the agent's self-metrics. */
  readonly name: string;
  /** Labels the sampler puts on every series of this source, e.g. `{job: 'node-exporter'}`. */
  readonly targetLabels: Readonly<Record<string, string>>;
  /**
   * Reads once and emits into `sink`. May be async. A thrown error counts as one source
   * error and loses only this source's samples for the tick.
   */
  collect(sink: MetricSink, ctx: CollectContext): Promise<void> | void;
}
