#!/usr/bin/env node
/**
 * kubepulse-collector: the composition root. Loads the configuration, wires the parts
 * together, starts them in order and stops them in reverse. The only `process.exit`.
 */
import type { FastifyInstance } from 'fastify';
import { ConfigError, createLogger, createSelfRegistry, helpText, errorMessage, isMainModule, type Logger } from '../shared/index.js';
import { DEFAULT_CONFIG, ENV_PREFIX, FLAGS, loadCollectorConfig, type CollectorConfig } from './config.js';
import { SimpleSqliteStorage } from './tsdb/simple-store.js';
import type { Storage } from './storage/index.js';
import { buildServer } from './web/server.js';
import { writePlugin } from './ingest/write-plugin.js';
import { metricsPlugin } from './web/metrics-plugin.js';
import { healthPlugin } from './web/health-plugin.js';
import { VERSION } from '../shared/version.js';
import { join } from 'node:path';
import { ClusterState, discoverApiServer, kubeApiPlugin } from './kube/index.js';
import type { Server as HttpsServer } from 'node:https';
import { parseDuration } from '../shared/index.js';
import { authConfigured, authPlugin, checkListenSecurity, createAuthenticators, httpsServerOptions, startTlsReloader } from './auth/index.js';
import { requestTimeoutMs, writePluginLimits } from './ingest/config.js';
import { Engine } from './promql/index.js';
import { queryApiPlugin } from './web/api-v1/index.js';

const BUILD_INFO = { version: VERSION, revision: '', branch: '', buildUser: '', buildDate: '', goVersion: `node ${process.version}` };

export interface Collector {
  readonly app: FastifyInstance;
  readonly storage: Storage;
  /** The address actually bound, e.g. `http://127.0.0.1:9190`. */
  readonly url: string;
  stop(): Promise<void>;
}

function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
  return { host, port: Number(listen.slice(i + 1)) };
}

/** Starts a collector from a loaded configuration; used by `main` and by tests. */
export async function startCollector(config: CollectorConfig, logger: Logger): Promise<Collector> {
  const { host, port } = splitListen(config.listen);
  const refuse = checkListenSecurity(host, authConfigured(config.auth));
  if (refuse) throw new ConfigError([refuse]);
  const registry = createSelfRegistry();
  let ready = false;

  const storage: Storage = new SimpleSqliteStorage({ dataDir: config.data_dir });
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
  const engine = new Engine({
    lookbackDeltaMs: parseDuration(config.query.lookback_delta),
    timeoutMs: parseDuration(config.query.timeout),
    maxSamples: config.query.max_samples,
    maxConcurrent: config.query.max_concurrency,
    registry,
    logger,
  });
  const authenticators = createAuthenticators(config.auth, logger);
  const tls = config.tls.cert_file ? { certFile: config.tls.cert_file, keyFile: config.tls.key_file } : undefined;
  const app = await buildServer({
    logger,
    https: tls && httpsServerOptions(tls),
    requestTimeoutMs: requestTimeoutMs(config.ingest),
    plugins: [
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
          ...writePluginLimits(config.ingest),
        },
      },
      { plugin: metricsPlugin, opts: { head: storage, registry } },
      { plugin: kubeApiPlugin, opts: { state: kube } },
      { plugin: queryApiPlugin, opts: { engine, queryable: storage, headReader: storage, buildInfo: BUILD_INFO } },
    ],
  });
  await kube?.start();

  await app.listen({ host, port });
  const reloader = tls && startTlsReloader({ ...tls, server: app.server as HttpsServer, intervalMs: parseDuration(config.tls.reload_interval), logger });
  const addr = app.server.address();
  const boundPort = typeof addr === 'object' && addr ? addr.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const url = `${tls ? 'https' : 'http'}://${urlHost}:${boundPort}`;
  ready = true;
  logger.info({ url, dataDir: config.data_dir, version: VERSION }, 'Collector started');

  let stopping: Promise<void> | undefined;
  return {
    app,
    storage,
    url,
    stop: () =>
      (stopping ??= (async () => {
        ready = false;
        reloader?.stop();
        await app.close();
        for (const a of authenticators) a.close?.();
        await kube?.stop();
        storage.close();
        logger.info('Collector stopped');
      })()),
  };
}

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadCollectorConfig(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`kubepulse-collector: ${errorMessage(err)}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
  if (loaded.actions.has('help')) {
    process.stdout.write(helpText('kubepulse-collector', 'Stores the series kubepulse agents push, and serves /metrics and the Prometheus API.', FLAGS, DEFAULT_CONFIG, ENV_PREFIX));
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
    collector = await startCollector(config, logger);
  } catch (err) {
    if (err instanceof ConfigError) {
      logger.fatal({ problems: err.problems }, 'Collector refused to start');
      process.stderr.write(`kubepulse-collector: ${err.message}\n`);
      process.exit(2);
    }
    logger.fatal({ err }, 'Collector failed to start');
    process.exit(1);
  }
  let signals = 0;
  const onSignal = (sig: string) => {
    if (++signals > 1) process.exit(1);
    logger.info({ signal: sig }, 'Stopping');
    collector.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'Stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

if (isMainModule(import.meta.url)) {
  void main();
}
