/**
 * Cluster-state scale: 30,000 pods on 1,000 nodes (the design's upper size for one
 * collector) in the fake API server, watched by the collector's ClusterState through
 * the real @kubernetes/client-node. Measures the initial sync, the heap held by the
 * watch caches and the series, a full relist after 410 Gone, and one series flush.
 * Pods and nodes are copies of real fixture objects (nri-kubernetes 1.35) with unique
 * names, UIDs and node assignments.
 *
 * Sizes: KP_BENCH_PODS (default 30000), KP_BENCH_NODES (default 1000).
 * Run: npx vitest run --config vitest.bench.config.ts test/bench/kube.bench.ts
 */
import { it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FakeApiServer, kubeconfigFor, loadNriCluster, type KubeObject } from '../fakes/fake-apiserver.js';
import { ClusterState } from '../../collector/kube/index.js';
import { listAll } from '../../collector/kube/kube-client.js';
import type { Appendable } from '../../collector/storage/interface.js';
import { sleep } from '../../shared/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapMiB(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** Counts samples; the bench measures generating them, not a store. */
class CountingSink implements Appendable {
  samples = 0;
  appender() {
    let n = 0;
    return {
      append: () => void n++,
      updateMetadata: () => {},
      commit: () => void (this.samples += n),
      rollback: () => {},
    };
  }
}

function synthesise(nPods: number, nNodes: number): { nodes: KubeObject[]; pods: KubeObject[] } {
  const { pods, nodes } = loadNriCluster('1.35');
  const template = pods.find((p) => p.metadata?.name?.startsWith('coredns'))!;
  const nodeT = nodes[0];
  const outNodes: KubeObject[] = [];
  for (let i = 0; i < nNodes; i++) {
    const n = structuredClone(nodeT);
    n.metadata = { ...n.metadata, name: `node-${i}`, uid: `node-uid-${i}`, labels: { ...n.metadata!.labels, 'kubernetes.io/hostname': `node-${i}` } };
    outNodes.push(n);
  }
  const outPods: KubeObject[] = [];
  for (let i = 0; i < nPods; i++) {
    const p = structuredClone(template);
    p.metadata = { ...p.metadata, name: `app-${i % 3000}-${i}`, namespace: `ns-${i % 50}`, uid: `pod-uid-${i}` };
    (p.spec as Record<string, unknown>).nodeName = `node-${i % nNodes}`;
    outPods.push(p);
  }
  return { nodes: outNodes, pods: outPods };
}

it('30,000 pods and 1,000 nodes: sync, cache memory, relist, flush', async () => {
  const nPods = Number(process.env.KP_BENCH_PODS ?? 30_000);
  const nNodes = Number(process.env.KP_BENCH_NODES ?? 1_000);
  const api = await FakeApiServer.start();
  const dir = mkdtempSync(join(tmpdir(), 'kp-kube-bench-'));
  let state: ClusterState | undefined;
  try {
    const { nodes, pods } = synthesise(nPods, nNodes);
    api.addAll(nodes);
    api.addAll(pods);
    const podJsonBytes = Buffer.byteLength(JSON.stringify(pods[0]));
    pods.length = 0;
    nodes.length = 0;
    // The list alone (fake server + HTTP + JSON), to tell the server's share of the relist.
    let t = performance.now();
    const listed = await listAll(kubeconfigFor(api), '/api/v1/pods');
    const listOnlyMs = performance.now() - t;
    if (listed.items.length !== nPods) throw new Error(`listed ${listed.items.length} pods, want ${nPods}`);
    listed.items.length = 0;
    const base = heapMiB();

    const sink = new CountingSink();
    state = new ClusterState({
      kc: kubeconfigFor(api),
      cluster: 'bench',
      storage: sink,
      dbPath: join(dir, 'kube.db'),
      intervalMs: 3_600_000,
      syncTimeoutMs: 600_000,
      resources: ['nodes', 'pods'],
    });
    const t0 = performance.now();
    await state.start(); // includes the first flush
    const syncMs = performance.now() - t0;
    const synced = heapMiB();

    t = performance.now();
    const flushed = state.flush();
    const flushMs = performance.now() - t;

    // Full relist: expire the watches (410) and time until both kinds listed again.
    const lists = () => api.requests.filter((r) => !r.watch && (r.path === '/api/v1/pods' || r.path === '/api/v1/nodes') && !r.query.continue).length;
    const before = lists();
    t = performance.now();
    api.expireWatches();
    while (lists() < before + 2 || api.openWatches < 2) await sleep(5);
    const relistMs = performance.now() - t;
    const cached = state.cached('pods')!.length;
    const rss = process.memoryUsage().rss / 2 ** 20;

    const lines = [
      `# Cluster state at scale`,
      '',
      `Date: ${new Date().toISOString()}  `,
      `Command: \`KP_BENCH_PODS=${nPods} KP_BENCH_NODES=${nNodes} npx vitest run --config vitest.bench.config.ts test/bench/kube.bench.ts\`  `,
      `Machine: ${(await import('node:os')).cpus()[0]?.model ?? '?'} × ${(await import('node:os')).cpus().length}, Node ${process.version}; the fake API server runs in the same process; load average at the end ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} (shared machine).`,
      '',
      `| what | value |`,
      `|---|---|`,
      `| pods / nodes | ${nPods} / ${nNodes} (pod JSON ${podJsonBytes} B each, a real coredns pod) |`,
      `| initial sync (list both kinds in pages of 500, build caches and series, first flush) | ${(syncMs / 1000).toFixed(2)} s |`,
      `| heap held by caches + series (after GC, beyond the fake server's own) | ${(synced - base).toFixed(0)} MiB (${(((synced - base) * 2 ** 20) / (nPods + nNodes) / 1024).toFixed(1)} KiB per object) |`,
      `| full relist after 410 Gone (pods + nodes) | ${(relistMs / 1000).toFixed(2)} s |`,
      `| of which: a bare paginated list of the pods (fake server + HTTP + JSON.parse, no cache) | ${(listOnlyMs / 1000).toFixed(2)} s |`,
      `| one series flush | ${flushed.appended} samples in ${flushMs.toFixed(0)} ms (${((flushed.appended / flushMs) * 1000 / 1e6).toFixed(2)} M samples/s) |`,
      `| process RSS at the end (server + collector) | ${rss.toFixed(0)} MiB |`,
      '',
    ];
    console.log(lines.join('\n'));
    if (cached !== nPods) throw new Error(`cache holds ${cached} pods, want ${nPods}`);
    if (process.env.KP_BENCH_WRITE !== '0') {
      const { writeFileSync, mkdirSync } = await import('node:fs');
      mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
      writeFileSync(join(import.meta.dirname, 'results', 'kube.md'), lines.join('\n'));
    }
  } finally {
    await state?.stop();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
