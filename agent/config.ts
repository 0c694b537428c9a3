/**
 * The agent's configuration: defaults, JSON Schema (closed objects), flags and
 * cross-field checks, loaded through `shared/config.ts`.
 */
import { hostname } from 'node:os';
import type { FlagSpec, Loaded } from '../shared/index.js';
import { SA_CA_FILE, SA_TOKEN_FILE } from './sources/kubelet/index.js';
import { CONFIG_FLAG, INFO_FLAGS, LOG_LEVEL_FLAG, ConfigError, DEFAULT_CLUSTER, JOB_KUBELET, JOB_NODE, LOG_LEVELS, loadConfig, parseDuration } from '../shared/index.js';

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
  /** `auto`: use the Kubernetes API when in a pod or given a kubeconfig; `off`: never. */
  kube_api: 'auto' | 'off';
  kubeconfig: string;
  node_ip: string;
  kubelet: {
    /** '' = https://$NODE_IP:10250 when the API is used, no kubelet otherwise. */
    url: string;
    token_file: string;
    ca_file: string;
    insecure_skip_verify: boolean;
    timeout: string;
  };
  /** '' = `<host_root>/sys/fs/cgroup`. */
  cgroup_root: string;
  shipper: {
    max_queue_batches: number;
    max_series_per_request: number;
    timeout: string;
    min_backoff: string;
    max_backoff: string;
    bearer_token_file: string;
    /** '' = no disk spool (memory only). */
    spool_dir: string;
    spool_max_bytes: number;
    backfill_samples_per_second: number;
    live_first_max_age: string;
    ca_file: string;
    insecure_skip_verify: boolean;
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
    kube_api: 'auto',
    kubeconfig: '',
    node_ip: process.env.NODE_IP ?? '',
    kubelet: {
      url: '',
      token_file: SA_TOKEN_FILE,
      ca_file: SA_CA_FILE,
      insecure_skip_verify: false,
      timeout: '5s',
    },
    cgroup_root: '',
    shipper: {
      max_queue_batches: 8640,
      max_series_per_request: 5000,
      timeout: '30s',
      min_backoff: '500ms',
      max_backoff: '30s',
      bearer_token_file: '',
      spool_dir: './data/spool',
      spool_max_bytes: 256 * 1024 * 1024,
      backfill_samples_per_second: 20_000,
      live_first_max_age: '30m',
      ca_file: '',
      insecure_skip_verify: false,
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
    kube_api: { enum: ['auto', 'off'] },
    kubeconfig: { type: 'string' },
    node_ip: { type: 'string' },
    kubelet: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: { anyOf: [{ type: 'string', format: 'url' }, { const: '' }] },
        token_file: { type: 'string' },
        ca_file: { type: 'string' },
        insecure_skip_verify: { type: 'boolean' },
        timeout: duration,
      },
    },
    cgroup_root: { type: 'string' },
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
        spool_dir: { type: 'string' },
        spool_max_bytes: { type: 'integer', minimum: 4096 },
        backfill_samples_per_second: { type: 'integer', minimum: 1 },
        live_first_max_age: duration,
        ca_file: { type: 'string' },
        insecure_skip_verify: { type: 'boolean' },
      },
    },
  },
};

export const ENV_PREFIX = 'KUBEPULSE_AGENT_';

export const FLAGS: readonly FlagSpec[] = [
  CONFIG_FLAG,
  { flag: 'collector-url', key: 'collector_url', type: 'string', help: 'collector (or any remote_write receiver) to push to' },
  { flag: 'host-root', key: 'host_root', type: 'string', help: 'where the host filesystem is mounted (/host in the DaemonSet)' },
  { flag: 'interval', key: 'interval', type: 'duration', help: 'sampling interval' },
  { flag: 'scrape-timeout', key: 'scrape_timeout', type: 'duration', help: 'deadline for the sources each tick (default 80% of the interval)' },
  { flag: 'node-name', key: 'node_name', type: 'string', help: 'node label of every series (the DaemonSet passes NODE_NAME; default the hostname)', env: 'NODE_NAME' },
  { flag: 'cluster', key: 'cluster', type: 'string', help: 'cluster label of every series' },
  { flag: 'listen', key: 'listen', type: 'string', help: 'address of /metrics, /healthz and /readyz' },
  LOG_LEVEL_FLAG,
  { flag: 'bearer-token-file', key: 'shipper.bearer_token_file', type: 'string', help: 'file with a bearer token for pushes (the ServiceAccount token in a cluster)' },
  { flag: 'spool-dir', key: 'shipper.spool_dir', type: 'string', help: 'directory of the on-disk spool of unsent samples (empty: memory only)' },
  { flag: 'spool-max-bytes', key: 'shipper.spool_max_bytes', type: 'number', help: 'size cap of the spool; the oldest batches are dropped (and counted) beyond it' },
  { flag: 'collector-ca-file', key: 'shipper.ca_file', type: 'string', help: 'CA that signed the collector\'s certificate (https collector URLs)' },
  { flag: 'kube-api', key: 'kube_api', type: 'string', help: 'use the Kubernetes API to name pods: auto (in a pod or with --kubeconfig) or off' },
  { flag: 'kubeconfig', key: 'kubeconfig', type: 'string', help: 'kubeconfig for the pod watch (default in-cluster when in a pod)' },
  { flag: 'node-ip', key: 'node_ip', type: 'string', help: 'this node\'s IP, for the default kubelet URL (the DaemonSet passes NODE_IP)', env: 'NODE_IP' },
  { flag: 'kubelet-url', key: 'kubelet.url', type: 'string', help: 'kubelet to read /stats/summary from (default https://$NODE_IP:10250 when the API is used)' },
  { flag: 'kubelet-token-file', key: 'kubelet.token_file', type: 'string', help: 'bearer token for the kubelet' },
  { flag: 'kubelet-ca-file', key: 'kubelet.ca_file', type: 'string', help: 'CA that signed the kubelet\'s serving certificate' },
  { flag: 'kubelet-insecure-skip-verify', key: 'kubelet.insecure_skip_verify', type: 'boolean', help: 'do not verify the kubelet\'s certificate (when its serving certificate is self-signed)' },
  { flag: 'kubelet-timeout', key: 'kubelet.timeout', type: 'duration', help: 'timeout of one kubelet request' },
  { flag: 'cgroup-root', key: 'cgroup_root', type: 'string', help: 'cgroup filesystem root (default <host-root>/sys/fs/cgroup)' },
  { flag: 'once', key: '', type: 'boolean', help: 'sample once, print the series in the Prometheus text format and exit (no push)' },
  ...INFO_FLAGS,
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
