/**
 * Load generator for test/bench/load.bench.ts, run as its own process: $KP_NODES
 * simulated agents, each with $KP_SERIES_PER_NODE series (kubelet/cAdvisor-like labels),
 * push one remote_write request per $KP_INTERVAL_MS to $KP_URL, staggered over the
 * interval, for $KP_DURATION_MS. No retries: any non-2xx or error counts as a loss.
 * Prints one JSON line with the totals and latency percentiles at the end.
 */
import http from 'node:http';
import { encodeWriteRequestBody, labelsFromObject, type Labels, type TimeSeries } from '../../shared/index.js';

const num = (k: string, d: number) => Number(process.env[k] ?? d);
const nodes = num('KP_NODES', 10);
const perNode = num('KP_SERIES_PER_NODE', 1000);
const intervalMs = num('KP_INTERVAL_MS', 10_000);
const durationMs = num('KP_DURATION_MS', 30_000);
const maxSeriesPerRequest = num('KP_MAX_SERIES_PER_REQUEST', 5000);
const url = new URL('/api/v1/write', process.env.KP_URL ?? 'http://127.0.0.1:9190');

const METRICS = [
  'container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_memory_rss', 'container_memory_cache',
  'container_network_receive_bytes_total', 'container_network_transmit_bytes_total', 'container_fs_reads_bytes_total', 'container_fs_writes_bytes_total',
  'container_cpu_cfs_throttled_periods_total', 'container_cpu_cfs_periods_total',
];

interface Node {
  labels: Labels[];
  values: Float64Array;
}
const all: Node[] = [];
for (let n = 0; n < nodes; n++) {
  const labels: Labels[] = [];
  for (let i = 0; i < perNode; i++) {
    const pod = Math.floor(i / (METRICS.length * 2));
    labels.push(labelsFromObject({
      __name__: METRICS[i % METRICS.length], cluster: 'bench', node: `node-${n}`, instance: `node-${n}`, job: 'kubelet', metrics_path: '/metrics/cadvisor',
      namespace: `ns-${pod % 20}`, pod: `pod-${n}-${pod}`, container: `c${Math.floor(i / METRICS.length) % 2}`,
    }));
  }
  all.push({ labels, values: new Float64Array(perNode) });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: nodes });
const latencies: number[] = [];
let okSamples = 0;
let lostSamples = 0;
const statuses: Record<string, number> = {};

function push(body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy', 'Content-Length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(intervalMs * 3, () => req.destroy());
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function tick(node: Node, t: number): Promise<void> {
  for (let i = 0; i < node.values.length; i++) node.values[i] += Math.random() * 1000;
  for (let off = 0; off < node.labels.length; off += maxSeriesPerRequest) {
    const ts: TimeSeries[] = [];
    for (let i = off; i < Math.min(off + maxSeriesPerRequest, node.labels.length); i++) ts.push({ labels: node.labels[i], samples: [{ t, v: node.values[i] }] });
    const body = encodeWriteRequestBody({ timeseries: ts });
    const started = performance.now();
    const status = await push(body);
    latencies.push(performance.now() - started);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status >= 200 && status < 300) okSamples += ts.length;
    else lostSamples += ts.length;
  }
}

const start = Date.now();
const pending: Promise<void>[] = [];
await new Promise<void>((resolve) => {
  let k = 0;
  const ticks = Math.floor(durationMs / intervalMs);
  const total = ticks * nodes;
  const next = () => {
    if (k >= total) return resolve();
    const round = Math.floor(k / nodes);
    const n = k % nodes;
    const due = start + round * intervalMs + (n * intervalMs) / nodes;
    const wait = due - Date.now();
    if (wait > 0) {
      setTimeout(next, wait);
      return;
    }
    pending.push(tick(all[n], start + round * intervalMs));
    k++;
    setImmediate(next);
  };
  next();
});
await Promise.all(pending);
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
process.stdout.write(JSON.stringify({ okSamples, lostSamples, statuses, requests: latencies.length, p50: pct(0.5), p99: pct(0.99), max: latencies.at(-1) ?? 0, wallMs: Date.now() - start }) + '\n');
agent.destroy();
