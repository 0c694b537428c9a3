#!/usr/bin/env node
/**
 * kubepulse-collector: the composition root. Loads the configuration, wires the parts
 * together, starts them in order and stops them in reverse. The only `process.exit`.
 */
import { dirname, join, resolve } from 'node:path';
import type { Server as HttpsServer } from 'node:https';
import type { FastifyInstance } from 'fastify';
import type { Logger, Service } from '../shared/index.js';
import { ConfigError, createLogger, exitOnSignals, errorMessage, helpText, isMainModule, parseDuration, VERSION } from '../shared/index.js';
import { DEFAULT_CONFIG, ENV_PREFIX, FLAGS, loadCollectorConfig, type CollectorConfig } from './config.js';
import { createSelfRegistry } from './self-registry.js';
import type { Storage } from './storage/index.js';
import { openTsdb } from './tsdb/index.js';
import { buildServer, type PluginRegistration } from './web/server.js';
import { metricsPlugin } from './web/metrics-plugin.js';
import { healthPlugin } from './web/health-plugin.js';
import { queryApiPlugin } from './web/api-v1/index.js';
import { writePlugin } from './ingest/write-plugin.js';
import { requestTimeoutMs, writePluginLimits } from './ingest/config.js';
import { authConfigured, authPlugin, checkListenSecurity, createAuthenticators, httpsServerOptions, startTlsReloader } from './auth/index.js';
import { ClusterState, discoverApiServer, kubeApiPlugin } from './kube/index.js';
import { Engine, engineQueryFunc, parseExpr } from './promql/index.js';
import { Alerting, type AlertingSectionConfig } from './alerting/index.js';
import { startSelfScrape } from './self-scrape.js';

const BUILD_INFO = { version: VERSION, revision: '', branch: '', buildUser: '', buildDate: '', goVersion: `node ${process.version}` };

export interface Collector {
  readonly app: FastifyInstance;
  readonly storage: Storage;
  readonly alerting: Alerting;
  /** The address actually bound, e.g. `http://127.0.0.1:9190`. */
  readonly url: string;
  /** Re-reads the configuration (when started with a reload source) and applies it. */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** The config file, for relative rule_files paths. */
  configFile?: string;
  /** Loads the configuration again for a reload (SIGHUP, `POST /-/reload`). */
  reloadConfig?: () => CollectorConfig;
}

function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
  return { host, port: Number(listen.slice(i + 1)) };
}

function alertingSection(c: CollectorConfig): AlertingSectionConfig {
  return { evaluation_interval: c.evaluation_interval, rule_files: [...c.rule_files], external_labels: { ...c.external_labels }, alerting: c.alerting, default_rules: c.default_rules };
}

/** Starts a collector from a loaded configuration; used by `main` and by tests. */
export async function startCollector(config: CollectorConfig, logger: Logger, opts: StartOptions = {}): Promise<Collector> {
  const { host, port } = splitListen(config.listen);
  const refuse = checkListenSecurity(host, authConfigured(config.auth));
  if (refuse) throw new ConfigError([refuse]);
  const registry = createSelfRegistry();
  let ready = false;
  const started: Service[] = [];

  const storage = openTsdb({
    dataDir: config.data_dir,
    retentionMs: parseDuration(config.storage.retention),
    rollupRetentionMs: parseDuration(config.storage.rollup_retention),
    outOfOrderWindowMs: parseDuration(config.storage.out_of_order_window),
    maxBytes: config.storage.max_bytes,
    logger,
    registry,
  });
  const engine = new Engine({
    lookbackDeltaMs: parseDuration(config.query.lookback_delta),
    timeoutMs: parseDuration(config.query.timeout),
    maxSamples: config.query.max_samples,
    maxConcurrent: config.query.max_concurrency,
    registry,
    logger,
  });
  const alerting = new Alerting({
    config: alertingSection(config),
    configDir: opts.configFile ? dirname(resolve(opts.configFile)) : undefined,
    query: engineQueryFunc(engine, storage),
    validate: (expr) => void parseExpr(expr),
    appendable: storage,
    dbPath: join(config.data_dir, 'alerting.db'),
    logger,
    registry,
  });
  const disc = discoverApiServer({ kubeconfig: config.kube.kubeconfig || undefined, context: config.kube.context || undefined, logger });
  const kube = disc.kc
    ? new ClusterState({
        kc: disc.kc,
        cluster: config.cluster,
        storage,
        queryable: storage,
        dbPath: join(config.data_dir, 'kube.db'),
        intervalMs: parseDuration(config.kube.interval),
        job: config.kube.job,
        ksm: { labelsAllowlist: config.kube.labels_allowlist, annotationsAllowlist: config.kube.annotations_allowlist },
        historyPerObject: config.kube.history_per_object,
        historyRetentionMs: parseDuration(config.kube.history_retention),
        eventsRetentionMs: parseDuration(config.kube.events_retention),
        registry,
        logger,
      })
    : undefined;

  let reloading: Promise<void> | undefined;
  const reload = () =>
    (reloading ??= (async () => {
      try {
        if (!opts.reloadConfig) {
          alerting.reload();
          return;
        }
        alerting.applyConfig(alertingSection(opts.reloadConfig()));
        logger.info('Configuration reloaded');
      } finally {
        reloading = undefined;
      }
    })());

  const authenticators = createAuthenticators(config.auth, logger);
  const tls = config.tls.cert_file ? { certFile: config.tls.cert_file, keyFile: config.tls.key_file } : undefined;
  const plugins: PluginRegistration[] = [
    // First: authentication applies to every route registered after it.
    ...(authenticators.length ? [{ plugin: authPlugin, opts: { authenticators, openMetrics: config.auth.open_metrics, registry, logger } }] : []),
    { plugin: healthPlugin, opts: { readiness: { ready: () => ready } } },
    {
      plugin: writePlugin,
      opts: {
        appendable: storage,
        maxBodyBytes: config.ingest.max_body_bytes,
        maxDecompressedBytes: config.ingest.max_decompressed_bytes,
        registry,
        logger,
        seriesLookup: storage,
        ...writePluginLimits(config.ingest),
      },
    },
    { plugin: metricsPlugin, opts: { head: storage, registry } },
    { plugin: queryApiPlugin, opts: { engine, queryable: storage, headReader: storage, buildInfo: BUILD_INFO } },
    { plugin: kubeApiPlugin, opts: { state: kube } },
    ...alerting.plugins(reload),
  ];
  const app = await buildServer({ logger, https: tls && httpsServerOptions(tls), requestTimeoutMs: requestTimeoutMs(config.ingest), plugins });

  // Set once the server listens; `stop` may run before that when start-up fails.
  const late: { stopSelfScrape?: () => void; reloader?: { stop(): void } } = {};
  const stop = async () => {
    ready = false;
    late.stopSelfScrape?.();
    late.reloader?.stop();
    await app.close();
    for (const s of started.reverse()) await s.stop();
    for (const a of authenticators) a.close?.();
    storage.close();
    logger.info('Collector stopped');
  };
  try {
    for (const svc of [kube, alerting]) {
      if (!svc) continue;
      await svc.start();
      started.push(svc);
    }
    await app.listen({ host, port });
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  late.reloader = tls && startTlsReloader({ ...tls, server: app.server as HttpsServer, intervalMs: parseDuration(config.tls.reload_interval), logger });
  const addr = app.server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const url = `${tls ? 'https' : 'http'}://${urlHost}:${boundPort}`;
  late.stopSelfScrape = startSelfScrape({
    registry,
    appendable: storage,
    targetLabels: { job: 'kubepulse-collector', instance: `${urlHost}:${boundPort}`, cluster: config.cluster },
    intervalMs: 15_000,
    logger,
  });
  ready = true;
  logger.info({ url, dataDir: config.data_dir, cluster: config.cluster, clusterState: disc.mode, version: VERSION }, 'Collector started');

  let stopping: Promise<void> | undefined;
  return { app, storage, alerting, url, reload, stop: () => (stopping ??= stop()) };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let loaded;
  try {
    loaded = loadCollectorConfig(argv, process.env);
  } catch (err) {
    process.stderr.write(`kubepulse-collector: ${errorMessage(err)}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
  if (loaded.actions.has('help')) {
    process.stdout.write(helpText('kubepulse-collector', 'Stores the series kubepulse agents push, evaluates rules, and serves /metrics and the Prometheus API.', FLAGS, DEFAULT_CONFIG, ENV_PREFIX));
    process.exit(0);
  }
  if (loaded.actions.has('version')) {
    process.stdout.write(`kubepulse-collector ${VERSION}\n`);
    process.exit(0);
  }
  const config = loaded.config;
  const logger = createLogger({ level: config.log_level, name: 'kubepulse-collector' });
  let collector: Collector;
  try {
    collector = await startCollector(config, logger, {
      configFile: loaded.configFile,
      reloadConfig: () => loadCollectorConfig(argv, process.env).config,
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      logger.fatal({ problems: err.problems }, 'Collector refused to start');
      process.stderr.write(`kubepulse-collector: ${err.message}\n`);
      process.exit(2);
    }
    logger.fatal({ err }, 'Collector failed to start');
    process.exit(1);
  }
  process.on('SIGHUP', () => {
    collector.reload().catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'Reload refused; the running configuration stays'));
  });
  exitOnSignals(() => collector.stop(), logger);
}

if (isMainModule(import.meta.url)) {
  void main();
}
