/**
 * Real Prometheus processes for interop tests (Debian's `prometheus` 2.42): server or
 * agent mode on a free loopback port, with a temporary storage directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, httpOk, startProcess, waitFor, type Proc } from './procs.js';

export interface PrometheusProc {
  readonly url: string;
  readonly proc: Proc;
  /** Instant query; returns the `data.result` vector. */
  query(expr: string, time?: number): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** The YAML config; `{{URL}}` is not substituted, pass final text. */
  config: string;
  agent?: boolean;
  remoteWriteReceiver?: boolean;
  extraArgs?: string[];
}

export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusProc> {
  const dir = mkdtempSync(join(tmpdir(), 'kp-prom-'));
  const cfg = join(dir, 'prometheus.yml');
  writeFileSync(cfg, opts.config);
  const port = await freePort();
  const args = [`--config.file=${cfg}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'];
  if (opts.agent) args.push('--enable-feature=agent', `--storage.agent.path=${join(dir, 'agent')}`);
  else args.push(`--storage.tsdb.path=${join(dir, 'data')}`);
  if (opts.remoteWriteReceiver) args.push('--web.enable-remote-write-receiver');
  args.push(...(opts.extraArgs ?? []));
  const proc = startProcess('prometheus', args);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`prometheus ready on ${url}`, () => httpOk(`${url}/-/ready`), 30_000);
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message}\n${proc.output()}`);
  }
  return {
    url,
    proc,
    async query(expr, time) {
      const u = new URL('/api/v1/query', url);
      u.searchParams.set('query', expr);
      if (time !== undefined) u.searchParams.set('time', String(time));
      const r = await fetch(u);
      const body = (await r.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      if (body.status !== 'success') throw new Error(`prometheus query ${expr}: ${body.error}`);
      return body.data.result;
    },
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts the real node_exporter on a free loopback port. */
export async function startNodeExporter(extraArgs: string[] = []): Promise<{ url: string; proc: Proc }> {
  const port = await freePort();
  const proc = startProcess('prometheus-node-exporter', [`--web.listen-address=127.0.0.1:${port}`, ...extraArgs]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`node_exporter on ${url}`, () => httpOk(`${url}/metrics`), 20_000);
  return { url, proc };
}

/** Runs `promtool check metrics` on an exposition; returns its problem lines and exit code. */
export async function promtoolCheckMetrics(text: string): Promise<{ code: number | string; problems: string[] }> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code: code ?? signal ?? -1, problems: out.split('\n').map((l) => l.trim()).filter(Boolean) }));
    child.stdin.end(text);
  });
}
