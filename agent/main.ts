#!/usr/bin/env node
/**
 * kubepulse-agent: the composition root. Loads the configuration, builds the sources,
 * and runs sampler → shipper, with its own /metrics, /healthz and /readyz.
 * `--once` samples once and prints the result instead of pushing.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Logger, Service } from '../shared/index.js';
import { METRICS_PATH_CADVISOR } from '../shared/index.js';
import { createPodSources } from './sources/kubelet/index.js';
import { ConfigError, KubepulseError, createLogger, exitOnSignals, errorMessage, helpText, isMainModule, parseDuration, VERSION } from '../shared/index.js';
import { defaultConfig, ENV_PREFIX, FLAGS, loadAgentConfig, type AgentConfig } from './config.js';
import { Sampler } from './sampler.js';
import { Shipper } from './shipper/shipper.js';
import { NodeSource } from './sources/node/index.js';
import type { Source } from './sources/source.js';
import { agentMetrics } from './self-metrics.js';
import { createAgentRegistry, type Registry } from './metrics-registry.js';
import { createAgentServer } from './http/server.js';
import { formatBatch } from './text-output.js';

export interface BuiltSources {
  sources: Source[];
  /** Started before the first tick, stopped after the last (the pod watch). */
  services: Service[];
  mode: string;
}

/** The node source plus the pod/container sources the environment allows. */
export async function buildSources(config: AgentConfig, logger: Logger, registry?: Registry): Promise<BuiltSources> {
  const node = new NodeSource({ hostRoot: config.host_root, targetLabels: { job: config.jobs.node } });
  const pods = await createPodSources({
    kubeApi: config.kube_api,
    kubeconfig: config.kubeconfig,
    nodeName: config.node_name,
    nodeIp: config.node_ip,
    kubeletUrl: config.kubelet.url,
    tokenFile: config.kubelet.token_file,
    caFile: config.kubelet.ca_file,
    insecureSkipVerify: config.kubelet.insecure_skip_verify,
    kubeletTimeoutMs: parseDuration(config.kubelet.timeout),
    cgroupRoot: config.cgroup_root || join(config.host_root, 'sys', 'fs', 'cgroup'),
    targetLabels: { job: config.jobs.kubelet, metrics_path: METRICS_PATH_CADVISOR },
    logger,
    registry,
  });
  return { sources: [node, ...pods.sources], services: pods.services, mode: pods.mode };
}

function baseLabels(config: AgentConfig): Record<string, string> {
  return { cluster: config.cluster, node: config.node_name, instance: config.node_name };
}

export interface Agent {
  readonly url: string;
  readonly sampler: Sampler;
  readonly shipper: Shipper;
  stop(): Promise<void>;
}

/** Starts sampling, pushing and serving; used by `main` and by tests. */
export async function startAgent(config: AgentConfig, logger: Logger): Promise<Agent> {
  const registry = createAgentRegistry();
  const metrics = agentMetrics(registry);
  const intervalMs = parseDuration(config.interval);
  const built = await buildSources(config, logger, registry);
  for (const svc of built.services) await svc.start();
  const sampler = new Sampler({
    sources: built.sources,
    baseLabels: baseLabels(config),
    intervalMs,
    deadlineMs: config.scrape_timeout ? parseDuration(config.scrape_timeout) : undefined,
    logger,
    metrics: metrics.sampler,
  });
  const tokenFile = config.shipper.bearer_token_file;
  const shipper = new Shipper({
    url: config.collector_url,
    maxQueueBatches: config.shipper.max_queue_batches,
    maxSeriesPerRequest: config.shipper.max_series_per_request,
    timeoutMs: parseDuration(config.shipper.timeout),
    minBackoffMs: parseDuration(config.shipper.min_backoff),
    maxBackoffMs: parseDuration(config.shipper.max_backoff),
    bearerToken: tokenFile ? () => readFileSync(tokenFile, 'utf8').trim() : undefined,
    spoolDir: config.shipper.spool_dir || undefined,
    spoolMaxBytes: config.shipper.spool_max_bytes,
    backfillSamplesPerSecond: config.shipper.backfill_samples_per_second,
    liveFirstMaxAgeMs: parseDuration(config.shipper.live_first_max_age),
    caFile: config.shipper.ca_file || undefined,
    insecureSkipVerify: config.shipper.insecure_skip_verify,
    logger,
    metrics: metrics.shipper,
  });
  let ticks = 0;
  const server: Server = createAgentServer({ registry, ready: () => ticks > 0 });
  const i = config.listen.lastIndexOf(':');
  const host = config.listen.slice(0, i).replace(/^\[(.*)\]$/, '$1') || undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(config.listen.slice(i + 1)), host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const url = `http://${host && host !== '0.0.0.0' && host !== '::' ? host : '127.0.0.1'}:${port}`;

  shipper.start();
  sampler.start((batch) => {
    ticks++;
    shipper.enqueue(batch);
  });
  logger.info({ url, collector: config.collector_url, node: config.node_name, interval: config.interval, mode: built.mode, version: VERSION }, 'Agent started');

  let stopping: Promise<void> | undefined;
  return {
    url,
    sampler,
    shipper,
    stop: () =>
      (stopping ??= (async () => {
        await sampler.stop();
        for (const svc of [...built.services].reverse()) await svc.stop();
        await shipper.stop();
        await new Promise<void>((r) => server.close(() => r()));
        logger.info('Agent stopped');
      })()),
  };
}

/** A refused setting (exit 2, as for a bad flag) rather than a failure at run time. */
function isConfigError(err: unknown): boolean {
  return err instanceof KubepulseError && err.code === 'KP_ERR_CONFIG';
}

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadAgentConfig(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`kubepulse-agent: ${errorMessage(err)}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
  if (loaded.actions.has('help')) {
    process.stdout.write(helpText('kubepulse-agent', 'Samples this node, its pods and containers, and pushes them to the collector with remote_write.', FLAGS, defaultConfig(), ENV_PREFIX));
    process.exit(0);
  }
  if (loaded.actions.has('version')) {
    process.stdout.write(`kubepulse-agent ${VERSION}\n`);
    process.exit(0);
  }
  const config = loaded.config;
  if (loaded.actions.has('once')) {
    // Logs go to stderr so stdout is exactly the exposition text.
    const logger = createLogger({ level: config.log_level, name: 'kubepulse-agent', destination: process.stderr });
    let built: BuiltSources;
    try {
      built = await buildSources(config, logger);
    } catch (err) {
      process.stderr.write(`kubepulse-agent: ${errorMessage(err)}\n`);
      process.exit(isConfigError(err) ? 2 : 1);
    }
    for (const svc of built.services) await svc.start();
    const sampler = new Sampler({ sources: built.sources, baseLabels: baseLabels(config), intervalMs: parseDuration(config.interval), logger });
    const batch = await sampler.tick();
    for (const svc of built.services) await svc.stop();
    process.stdout.write(formatBatch(batch), () => process.exit(0));
    return;
  }
  const logger = createLogger({ level: config.log_level, name: 'kubepulse-agent' });
  let agent: Agent;
  try {
    agent = await startAgent(config, logger);
  } catch (err) {
    logger.fatal({ err }, 'Agent failed to start');
    process.exit(isConfigError(err) ? 2 : 1);
  }
  exitOnSignals(() => agent.stop(), logger);
}

if (isMainModule(import.meta.url)) {
  void main();
}
