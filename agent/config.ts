/**
 * The agent's configuration: defaults, JSON Schema (closed objects), flags and
 * cross-field checks, loaded through `shared/config.ts`.
 */
import { hostname } from 'node:os';
import type { FlagSpec, Loaded } from '../shared/index.js';
import { ConfigError, DEFAULT_CLUSTER, JOB_KUBELET, JOB_NODE, LOG_LEVELS, loadConfig, parseDuration } from '../shared/index.js';

export interface AgentConfig {
  collector_url: string;
  host_root: string;
  interval: string;
  /** Per-tick deadline for sources; '' = 80 % of the interval. */
  scrape_timeout: string;
  node_name: string;
  cluster: string;
  listen: string;
  log_level: (typeof LOG_LEVELS)[number];
  jobs: { node: string; kubelet: string };
  shipper: {
    max_queue_batches: number;
    max_series_per_request: number;
    timeout: string;
    min_backoff: string;
    max_backoff: string;
    bearer_token_file: string;
  };
}

export function defaultConfig(): AgentConfig {
  return {
    collector_url: 'http://127.0.0.1:9190',
    host_root: '/',
    interval: '10s',
    scrape_timeout: '',
    node_name: process.env.NODE_NAME || hostname(),
    cluster: DEFAULT_CLUSTER,
    listen: ':9191',
    log_level: 'info',
    jobs: { node: JOB_NODE, kubelet: JOB_KUBELET },
    shipper: {
      max_queue_batches: 8640,
      max_series_per_request: 5000,
      timeout: '30s',
      min_backoff: '500ms',
      max_backoff: '30s',
      bearer_token_file: '',
    },
  };
}

const duration = { type: 'string', format: 'duration' };

export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    collector_url: { type: 'string', format: 'url' },
    host_root: { type: 'string', minLength: 1 },
    interval: duration,
    scrape_timeout: { anyOf: [duration, { const: '' }] },
    node_name: { type: 'string', minLength: 1 },
    cluster: { type: 'string', minLength: 1 },
    listen: { type: 'string', format: 'listen-address' },
    log_level: { enum: [...LOG_LEVELS] },
    jobs: {
      type: 'object',
      additionalProperties: false,
      properties: { node: { type: 'string', minLength: 1 }, kubelet: { type: 'string', minLength: 1 } },
    },
    shipper: {
      type: 'object',
      additionalProperties: false,
      properties: {
        max_queue_batches: { type: 'integer', minimum: 1 },
        max_series_per_request: { type: 'integer', minimum: 1 },
        timeout: duration,
        min_backoff: duration,
        max_backoff: duration,
        bearer_token_file: { type: 'string' },
      },
    },
  },
};

export const ENV_PREFIX = 'KUBEPULSE_AGENT_';

export const FLAGS: readonly FlagSpec[] = [
  { flag: 'config', key: 'config', type: 'string', help: 'YAML configuration file' },
  { flag: 'collector-url', key: 'collector_url', type: 'string', help: 'collector (or any remote_write receiver) to push to' },
  { flag: 'host-root', key: 'host_root', type: 'string', help: 'where the host filesystem is mounted (/host in the DaemonSet)' },
  { flag: 'interval', key: 'interval', type: 'duration', help: 'sampling interval' },
  { flag: 'scrape-timeout', key: 'scrape_timeout', type: 'duration', help: 'deadline for the sources each tick (default 80% of the interval)' },
  { flag: 'node-name', key: 'node_name', type: 'string', help: 'node label of every series (the DaemonSet passes NODE_NAME; default the hostname)', env: 'NODE_NAME' },
  { flag: 'cluster', key: 'cluster', type: 'string', help: 'cluster label of every series' },
  { flag: 'listen', key: 'listen', type: 'string', help: 'address of /metrics, /healthz and /readyz' },
  { flag: 'log-level', key: 'log_level', type: 'string', help: `log level (${LOG_LEVELS.join(', ')})` },
  { flag: 'bearer-token-file', key: 'shipper.bearer_token_file', type: 'string', help: 'file with a bearer token for pushes (the ServiceAccount token in a cluster)' },
  { flag: 'once', key: '', type: 'boolean', help: 'sample once, print the series in the Prometheus text format and exit (no push)' },
  { flag: 'help', key: '', type: 'boolean', help: 'print this help and exit' },
  { flag: 'version', key: '', type: 'boolean', help: 'print the version and exit' },
];

export function loadAgentConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Loaded<AgentConfig> {
  const loaded = loadConfig<AgentConfig>({
    program: 'kubepulse-agent',
    schema: { ...CONFIG_SCHEMA, properties: { ...CONFIG_SCHEMA.properties, config: { type: 'string' } } },
    defaults: defaultConfig(),
    envPrefix: ENV_PREFIX,
    flags: FLAGS,
    argv,
    env,
  });
  const c = loaded.config;
  const problems: string[] = [];
  const interval = parseDuration(c.interval);
  if (interval < 1000) problems.push(`key "interval": value ${JSON.stringify(c.interval)} is invalid: expected at least 1s`);
  if (c.scrape_timeout !== '' && parseDuration(c.scrape_timeout) > interval) {
    problems.push(`key "scrape_timeout": value ${JSON.stringify(c.scrape_timeout)} is invalid: expected at most the interval (${c.interval})`);
  }
  if (parseDuration(c.shipper.min_backoff) > parseDuration(c.shipper.max_backoff)) {
    problems.push(`key "shipper.min_backoff": value ${JSON.stringify(c.shipper.min_backoff)} is invalid: expected at most shipper.max_backoff (${c.shipper.max_backoff})`);
  }
  if (problems.length) throw new ConfigError(problems);
  return loaded;
}
