/**
 * The store's self-metrics, `kubepulse_tsdb_*`, registered on the registry it is given.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface TsdbGauges {
  headSeries(): number;
  chunks(): number;
  storageBytes(): number;
  walBytes(): number;
  headBytes(): number;
}

export type TsdbMetrics = ReturnType<typeof createTsdbMetrics>;

const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60];

/** Creates the metrics; on a registry that already has them (a reopened store) they are replaced. */
export function createTsdbMetrics(registry: Registry | undefined, g: TsdbGauges) {
  const reg = registry ?? new Registry();
  for (const m of reg.getMetricsAsArray()) if (m.name.startsWith('kubepulse_tsdb_')) reg.removeSingleMetric(m.name);
  const registers = [reg];
  const gauge = (name: string, help: string, fn: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(fn());
      },
    });
  gauge('kubepulse_tsdb_head_series', 'Series known to the store (in the in-memory index).', g.headSeries);
  gauge('kubepulse_tsdb_chunks', 'Raw chunks stored in SQLite.', g.chunks);
  gauge('kubepulse_tsdb_storage_bytes', 'Bytes used in the SQLite database file (pages in use).', g.storageBytes);
  gauge('kubepulse_tsdb_wal_bytes', 'Bytes of write-ahead-log records not yet covered by stored chunks.', g.walBytes);
  gauge('kubepulse_tsdb_head_chunk_bytes', 'Bytes held by open in-memory head chunks.', g.headBytes);
  return {
    samplesAppended: new Counter({ name: 'kubepulse_tsdb_samples_appended_total', help: 'Samples committed to the store.', registers }),
    samplesDuplicate: new Counter({
      name: 'kubepulse_tsdb_samples_duplicate_total',
      help: 'Samples identical to a stored one, accepted and ignored.',
      registers,
    }),
    samplesOutOfOrder: new Counter({
      name: 'kubepulse_tsdb_samples_out_of_order_total',
      help: 'Samples older than their series head accepted inside the out-of-order window.',
      registers,
    }),
    samplesRejected: new Counter({
      name: 'kubepulse_tsdb_samples_rejected_total',
      help: 'Samples refused, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    seriesCreated: new Counter({ name: 'kubepulse_tsdb_series_created_total', help: 'Series created.', registers }),
    seriesRemoved: new Counter({ name: 'kubepulse_tsdb_series_removed_total', help: 'Series removed by retention.', registers }),
    commitDuration: new Histogram({
      name: 'kubepulse_tsdb_commit_duration_seconds',
      help: 'Duration of appender commits (durable write of one batch).',
      buckets: DURATION_BUCKETS,
      registers,
    }),
    compactionDuration: new Histogram({
      name: 'kubepulse_tsdb_compaction_duration_seconds',
      help: 'Duration of background compactions (chunk merging and rollups), wall time including yields.',
      buckets: DURATION_BUCKETS,
      registers,
    }),
    retentionDuration: new Histogram({
      name: 'kubepulse_tsdb_retention_duration_seconds',
      help: 'Duration of background retention runs, wall time including yields.',
      buckets: DURATION_BUCKETS,
      registers,
    }),
    walReplayDuration: new Gauge({
      name: 'kubepulse_tsdb_wal_replay_duration_seconds',
      help: 'Time the last open spent loading the index and replaying the write-ahead log.',
      registers,
    }),
    maintenanceFailures: new Counter({
      name: 'kubepulse_tsdb_maintenance_failures_total',
      help: 'Background maintenance runs that failed (logged).',
      registers,
    }),
  };
}
