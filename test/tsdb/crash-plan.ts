/** What the crash test's child writes, shared by the child and the checks. */
import type { Labels, Sample } from '../../shared/index.js';
import { labelsFromObject, STALE_NAN } from '../../shared/index.js';
import type { TsdbOptions } from '../../collector/tsdb/index.js';

export const CRASH_SERIES: Labels[] = Array.from({ length: 200 }, (_, i) =>
  labelsFromObject({ __name__: i % 2 ? 'container_cpu_usage_seconds_total' : 'container_memory_working_set_bytes', pod: `pod-${i}`, namespace: 'crash' }),
);

export const CRASH_T0 = 1_700_000_000_000;

/** Sample of iteration `i` for series `s`: one second apart, a stale marker now and then. */
export function crashSample(i: number, s: number): Sample {
  return { t: CRASH_T0 + i * 1000, v: s === 0 && i % 17 === 16 ? STALE_NAN : i * 1.5 + s };
}

/** Small chunks and a fast maintenance timer, so kills land in every phase. */
export function crashOptions(dataDir: string): TsdbOptions {
  const now = () => CRASH_T0 + 1e9;
  return {
    dataDir,
    chunkRangeMs: 20_000,
    compactRangeMs: 80_000,
    rollupWindowMs: 300_000,
    outOfOrderWindowMs: 10_000,
    maintenanceIntervalMs: 50,
    retentionMs: 365 * 86_400_000,
    now,
  };
}
