/**
 * The collector's configuration: defaults, JSON Schema (closed objects), flags and
 * cross-field checks. Loaded once by `main.ts` through `shared/config.ts`.
 */
import type { FlagSpec, Loaded } from '../shared/index.js';
import { ALERTING_CONFIG_DEFAULTS, ALERTING_CONFIG_PROPERTIES, type AlertingSectionConfig } from './alerting/index.js';
import { DEFAULT_INGEST_LIMITS_CONFIG, INGEST_LIMITS_SCHEMA_PROPERTIES, type IngestLimitsConfig } from './ingest/config.js';
import { AUTH_CONFIG_SCHEMA, checkAuthConfig, DEFAULT_AUTH_CONFIG, DEFAULT_TLS_CONFIG, TLS_CONFIG_SCHEMA, type AuthConfig, type TlsConfig } from './auth/index.js';
import { CONFIG_FLAG, INFO_FLAGS, LOG_LEVEL_FLAG, ConfigError, LOG_LEVELS, loadConfig, parseDuration, DEFAULT_CLUSTER, JOB_KUBE_STATE } from '../shared/index.js';

export interface CollectorConfig extends AlertingSectionConfig {
  listen: string;
  data_dir: string;
  log_level: (typeof LOG_LEVELS)[number];
  /** External `cluster` label of this collector's own series. */
  cluster: string;
  ingest: IngestLimitsConfig & {
    max_body_bytes: number;
    max_decompressed_bytes: number;
  };
  auth: AuthConfig;
  tls: TlsConfig;
  storage: {
    retention: string;
    rollup_retention: string;
    out_of_order_window: string;
    max_bytes: number;
  };
  query: {
    lookback_delta: string;
    timeout: string;
    max_samples: number;
    max_concurrency: number;
  };
  kube: {
    kubeconfig: string;
    context: string;
    interval: string;
    job: string;
    labels_allowlist: Record<string, string[]>;
    annotations_allowlist: Record<string, string[]>;
    history_per_object: number;
    history_retention: string;
    events_retention: string;
  };
}

export const DEFAULT_CONFIG: CollectorConfig = {
  ...ALERTING_CONFIG_DEFAULTS,
  listen: '127.0.0.1:9190',
  data_dir: './data',
  log_level: 'info',
  cluster: DEFAULT_CLUSTER,
  ingest: {
    max_body_bytes: 32 * 1024 * 1024,
    max_decompressed_bytes: 256 * 1024 * 1024,
    ...DEFAULT_INGEST_LIMITS_CONFIG,
  },
  auth: DEFAULT_AUTH_CONFIG,
  tls: DEFAULT_TLS_CONFIG,
  storage: {
    retention: '15d',
    rollup_retention: '90d',
    out_of_order_window: '1h',
    max_bytes: 0,
  },
  query: {
    lookback_delta: '5m',
    timeout: '2m',
    max_samples: 50_000_000,
    max_concurrency: 20,
  },
  kube: {
    kubeconfig: '',
    context: '',
    interval: '30s',
    job: JOB_KUBE_STATE,
    labels_allowlist: {},
    annotations_allowlist: {},
    history_per_object: 100,
    history_retention: '30d',
    events_retention: '7d',
  },
};

const duration = { type: 'string', format: 'duration' };
/** kube-state-metrics' allow-lists: resource plural → label (or annotation) keys, `*` for all. */
const allowlist = { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } };

export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...ALERTING_CONFIG_PROPERTIES,
    listen: { type: 'string', format: 'listen-address' },
    data_dir: { type: 'string', minLength: 1 },
    log_level: { enum: [...LOG_LEVELS] },
    cluster: { type: 'string', minLength: 1 },
    ingest: {
      type: 'object',
      additionalProperties: false,
      properties: {
        max_body_bytes: { type: 'integer', minimum: 1024 },
        max_decompressed_bytes: { type: 'integer', minimum: 1024 },
        ...INGEST_LIMITS_SCHEMA_PROPERTIES,
      },
    },
    auth: AUTH_CONFIG_SCHEMA,
    tls: TLS_CONFIG_SCHEMA,
    storage: {
      type: 'object',
      additionalProperties: false,
      properties: {
        retention: duration,
        rollup_retention: duration,
        out_of_order_window: duration,
        max_bytes: { type: 'integer', minimum: 0 },
      },
    },
    query: {
      type: 'object',
      additionalProperties: false,
      properties: {
        lookback_delta: duration,
        timeout: duration,
        max_samples: { type: 'integer', minimum: 1 },
        max_concurrency: { type: 'integer', minimum: 1 },
      },
    },
    kube: {
      type: 'object',
      additionalProperties: false,
      properties: {
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        interval: duration,
        job: { type: 'string', minLength: 1 },
        labels_allowlist: allowlist,
        annotations_allowlist: allowlist,
        history_per_object: { type: 'integer', minimum: 1 },
        history_retention: duration,
        events_retention: duration,
      },
    },
  },
};

export const ENV_PREFIX = 'KUBEPULSE_COLLECTOR_';

export const FLAGS: readonly FlagSpec[] = [
  CONFIG_FLAG,
  { flag: 'listen', key: 'listen', type: 'string', help: 'address to serve the API, /metrics and /api/v1/write on' },
  { flag: 'data-dir', key: 'data_dir', type: 'string', help: 'directory of the SQLite store' },
  LOG_LEVEL_FLAG,
  { flag: 'cluster', key: 'cluster', type: 'string', help: 'cluster label of the collector\'s own series' },
  { flag: 'max-body-bytes', key: 'ingest.max_body_bytes', type: 'number', help: 'largest remote-write body accepted, bytes (413 above)' },
  { flag: 'retention', key: 'storage.retention', type: 'duration', help: 'how long raw samples are kept' },
  { flag: 'rule-files', key: 'rule_files', type: 'list', help: 'Prometheus rule files: comma-separated paths, directories or globs' },
  { flag: 'evaluation-interval', key: 'evaluation_interval', type: 'duration', help: 'default interval of rule groups' },
  { flag: 'query-timeout', key: 'query.timeout', type: 'duration', help: 'longest a PromQL query may run (503 timeout beyond)' },
  { flag: 'query-max-samples', key: 'query.max_samples', type: 'number', help: 'most samples one query may load (422 beyond)' },
  { flag: 'query-lookback-delta', key: 'query.lookback_delta', type: 'duration', help: 'how far back an instant selector looks for a sample' },
  { flag: 'static-tokens-file', key: 'auth.static_tokens_file', type: 'string', help: 'YAML file of bearer tokens and their roles (push, read); outside a cluster' },
  { flag: 'tls-cert-file', key: 'tls.cert_file', type: 'string', help: 'serve HTTPS with this PEM certificate (reloaded when it changes)' },
  { flag: 'tls-key-file', key: 'tls.key_file', type: 'string', help: 'private key of --tls-cert-file' },
  { flag: 'kubeconfig', key: 'kube.kubeconfig', type: 'string', help: 'kubeconfig of the cluster to watch (in a pod: the in-cluster service account; neither: no cluster state)' },
  { flag: 'kube-context', key: 'kube.context', type: 'string', help: 'context of --kubeconfig to use (default its current context)' },
  ...INFO_FLAGS,
];

/** Loads and checks the configuration; throws ConfigError listing every problem. */
export function loadCollectorConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Loaded<CollectorConfig> {
  const loaded = loadConfig<CollectorConfig & { config?: string }>({
    program: 'kubepulse-collector',
    schema: { ...CONFIG_SCHEMA, properties: { ...CONFIG_SCHEMA.properties, config: { type: 'string' } } },
    defaults: DEFAULT_CONFIG,
    envPrefix: ENV_PREFIX,
    flags: FLAGS,
    argv,
    env,
  });
  const c = loaded.config;
  const problems: string[] = [];
  if (parseDuration(c.storage.rollup_retention) < parseDuration(c.storage.retention)) {
    problems.push(`key "storage.rollup_retention": value ${JSON.stringify(c.storage.rollup_retention)} is invalid: expected a duration at least storage.retention (${c.storage.retention})`);
  }
  problems.push(...checkAuthConfig(c.auth, c.tls));
  if (problems.length) throw new ConfigError(problems);
  return loaded;
}
