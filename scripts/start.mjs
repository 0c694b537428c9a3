#!/usr/bin/env node
// `npm start`: install if needed, build, then run a collector with its embedded store in
// ./data and one host-mode agent on this machine pushing to it. Ctrl-C stops both.
// Ports and the data directory can be moved with KUBEPULSE_START_COLLECTOR_PORT,
// KUBEPULSE_START_AGENT_PORT and KUBEPULSE_START_DATA_DIR (the end-to-end test does).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const collectorPort = env.KUBEPULSE_START_COLLECTOR_PORT ?? '9190';
const agentPort = env.KUBEPULSE_START_AGENT_PORT ?? '9191';
const dataDir = env.KUBEPULSE_START_DATA_DIR ?? resolve(root, 'data');
const interval = env.KUBEPULSE_START_INTERVAL ?? '10s';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    console.error(`kubepulse: '${cmd} ${args.join(' ')}' failed (exit ${r.status})`);
    process.exit(1);
  }
}

if (!existsSync(resolve(root, 'node_modules', '.package-lock.json'))) {
  console.log('kubepulse: installing dependencies (npm ci; better-sqlite3 builds from source, about two minutes)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}
if (env.KUBEPULSE_START_SKIP_BUILD !== '1') {
  console.log('kubepulse: building…');
  run(process.execPath, [resolve(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
}

const children = [];
function start(name, script, args) {
  const child = spawn(process.execPath, [resolve(root, 'dist', script), ...args], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`kubepulse: ${name} exited (${signal ?? code}); stopping`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

async function waitReady(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      if (r.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  // Agent first, so its last batch reaches the collector.
  const [collector, agent] = children;
  const killAfter = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), 10_000);
  const exited = (c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)));
  (async () => {
    if (agent) {
      agent.kill('SIGTERM');
      await exited(agent);
    }
    if (collector) {
      collector.kill('SIGTERM');
      await exited(collector);
    }
    clearTimeout(killAfter);
    console.log('kubepulse: stopped');
    process.exit(code);
  })();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

const collectorUrl = `http://127.0.0.1:${collectorPort}`;
start('collector', 'collector/main.js', ['--listen', `127.0.0.1:${collectorPort}`, '--data-dir', dataDir]);
if (!(await waitReady(`${collectorUrl}/-/ready`, 30_000))) {
  console.error(`kubepulse: the collector did not become ready on ${collectorUrl}`);
  stop(1);
} else {
  start('agent', 'agent/main.js', ['--collector-url', collectorUrl, '--listen', `127.0.0.1:${agentPort}`, '--interval', interval, '--spool-dir', resolve(dataDir, 'spool')]);
  await waitReady(`http://127.0.0.1:${agentPort}/healthz`, 30_000);
  console.log(`
kubepulse is running (Ctrl-C stops it):
  collector /metrics      ${collectorUrl}/metrics
  collector health        ${collectorUrl}/-/ready
  remote_write endpoint   ${collectorUrl}/api/v1/write
  agent self-metrics      http://127.0.0.1:${agentPort}/metrics
  data directory          ${dataDir}
The agent samples this machine every ${interval}; node series appear on /metrics after the first push.
`);
}
