/**
 * The `ingest:` keys of the collector configuration beyond the body limits that
 * collector/config.ts already has: their defaults, the JSON-Schema properties to merge
 * into its `ingest` object, and the mapping to {@link WritePluginOptions}.
 */
import { parseDuration } from '../../shared/index.js';
import type { WritePluginOptions } from './write-plugin.js';
import { DEFAULT_INGEST_LIMITS } from './write-plugin.js';

export interface IngestLimitsConfig {
  max_series_per_request: number;
  max_labels_per_series: number;
  max_label_name_length: number;
  max_label_value_length: number;
  max_new_series_per_minute: number;
  max_concurrent_requests: number;
  /** Time to receive a whole request (headers and body); '0s' = none. */
  request_timeout: string;
}

export const DEFAULT_INGEST_LIMITS_CONFIG: IngestLimitsConfig = {
  max_series_per_request: DEFAULT_INGEST_LIMITS.maxSeriesPerRequest,
  max_labels_per_series: DEFAULT_INGEST_LIMITS.maxLabelsPerSeries,
  max_label_name_length: DEFAULT_INGEST_LIMITS.maxLabelNameLength,
  max_label_value_length: DEFAULT_INGEST_LIMITS.maxLabelValueLength,
  max_new_series_per_minute: DEFAULT_INGEST_LIMITS.maxNewSeriesPerMinute,
  max_concurrent_requests: DEFAULT_INGEST_LIMITS.maxConcurrentRequests,
  request_timeout: '30s',
};

const count = { type: 'integer', minimum: 0 };

/** Properties to add to the `ingest` object of collector/config.ts's schema (0 = no limit). */
export const INGEST_LIMITS_SCHEMA_PROPERTIES = {
  max_series_per_request: count,
  max_labels_per_series: count,
  max_label_name_length: count,
  max_label_value_length: count,
  max_new_series_per_minute: count,
  max_concurrent_requests: count,
  request_timeout: { type: 'string', format: 'duration' },
};

/** The limit options of {@link writePlugin} for a loaded `ingest:` section. */
export function writePluginLimits(c: IngestLimitsConfig): Pick<WritePluginOptions, 'maxSeriesPerRequest' | 'maxLabelsPerSeries' | 'maxLabelNameLength' | 'maxLabelValueLength' | 'maxNewSeriesPerMinute' | 'maxConcurrentRequests'> {
  return {
    maxSeriesPerRequest: c.max_series_per_request,
    maxLabelsPerSeries: c.max_labels_per_series,
    maxLabelNameLength: c.max_label_name_length,
    maxLabelValueLength: c.max_label_value_length,
    maxNewSeriesPerMinute: c.max_new_series_per_minute,
    maxConcurrentRequests: c.max_concurrent_requests,
  };
}

/** `request_timeout` in ms, for buildServer's `requestTimeoutMs`. */
export function requestTimeoutMs(c: Pick<IngestLimitsConfig, 'request_timeout'>): number {
  return parseDuration(c.request_timeout);
}
