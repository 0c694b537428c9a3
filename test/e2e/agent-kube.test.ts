/**
 * The agent in kubernetes mode, end to end as a cluster runs it: its own pod watch
 * against the fake API server (token required, node-scoped), the fake kubelet over
 * HTTPS, a generated kubepods cgroup tree, pushing to a real collector; the series are
 * read back through the collector's query API. A pod the watch learns about after the
 * start is named (with its image) from the next ticks, with no configuration.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../collector/main.js';
import { loadCollectorConfig } from '../../collector/config.js';
import { startAgent, type Agent } from '../../agent/main.js';
import { loadAgentConfig } from '../../agent/config.js';
import { noopLogger } from '../../shared/index.js';
import { FakeApiServer, kubeconfigFor, type KubeObject } from '../fakes/fake-apiserver.js';
import { startFakeKubelet, type FakeKubelet } from '../fakes/fake-kubelet.js';
import { generateKubepodsTree, summaryFor, type GeneratedTree } from '../agent-pods/cgroup-tree.js';

const NODE = 'node-1';
const TOKEN = 'agent-token';

async function query(collector: Collector, q: string): Promise<Array<{ metric: Record<string, string> }>> {
  const res = await fetch(`${collector.url}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string> }> } };
  expect(body.status).toBe('success');
  return body.data.result;
}

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms (last: ${JSON.stringify(v).slice(0, 400)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('agent in kubernetes mode → collector', () => {
  let dir: string;
  let api: FakeApiServer;
  let kubelet: FakeKubelet;
  let collector: Collector;
  let agent: Agent;
  let tree: GeneratedTree;
  const asObject = (p: GeneratedTree['pods'][number]) => ({ ...p, apiVersion: 'v1', kind: 'Pod' }) as unknown as KubeObject;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kp-agent-kube-'));
    tree = generateKubepodsTree(join(dir, 'cgroup'), { version: 2, driver: 'systemd', runtime: 'containerd', pods: 4 });
    api = await FakeApiServer.start({ requireAuth: true, tokens: { [TOKEN]: { username: 'system:serviceaccount:kubepulse:agent', uid: 'u', groups: [] } } });
    // The last pod runs on the node (summary, cgroups) but the API server has not told of it yet.
    api.addAll(tree.pods.slice(0, 3).map(asObject));
    kubelet = await startFakeKubelet({ summary: summaryFor(tree) });
    writeFileSync(join(dir, 'kubeconfig'), kubeconfigFor(api, { token: TOKEN }).exportConfig());
    collector = await startCollector(loadCollectorConfig(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data')], {}).config, noopLogger());
    const { config } = loadAgentConfig(
      [
        '--collector-url', collector.url, '--listen', '127.0.0.1:0', '--interval', '1s', '--cluster', 'e2e', '--spool-dir', join(dir, 'spool'),
        '--kubeconfig', join(dir, 'kubeconfig'), '--kubelet-url', kubelet.url, '--kubelet-ca-file', kubelet.caFile, '--kubelet-token-file', kubelet.tokenFile,
        '--cgroup-root', join(dir, 'cgroup'),
      ],
      { NODE_NAME: NODE },
    );
    agent = await startAgent(config, noopLogger());
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await collector?.stop();
    await kubelet?.close();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names every container of the watched pods with its image, and a pod the watch learns of later from then on', async () => {
    const containers = tree.cgroups.filter((c) => c.labels.container !== '');
    const known = containers.filter((c) => c.labels.pod !== tree.pods[3].metadata!.name);
    const named = (rows: Array<{ metric: Record<string, string> }>) => new Set(rows.map((r) => `${r.metric.namespace}/${r.metric.pod}/${r.metric.container}/${r.metric.image}`));
    const q = 'container_cpu_cfs_throttled_periods_total{job="kubelet", image!=""}';
    let rows = await until('the watched pods named', () => query(collector, q), (r) => r.length >= known.length);
    expect(named(rows)).toEqual(new Set(known.map((c) => `${c.labels.namespace}/${c.labels.pod}/${c.labels.container}/${c.labels.image}`)));
    expect(rows.every((r) => r.metric.node === NODE && r.metric.cluster === 'e2e')).toBe(true);

    api.add(asObject(tree.pods[3]));
    rows = await until('the new pod named', () => query(collector, q), (r) => r.length >= containers.length);
    expect(named(rows)).toEqual(new Set(containers.map((c) => `${c.labels.namespace}/${c.labels.pod}/${c.labels.container}/${c.labels.image}`)));

    const podReqs = api.requests.filter((r) => r.path === '/api/v1/pods');
    expect(podReqs.some((r) => r.watch)).toBe(true);
    expect(podReqs.every((r) => r.query.fieldSelector === `spec.nodeName=${NODE}`)).toBe(true);
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).not.toMatch(/^kubepulse_agent_pod_watch_errors_total\{/m);
    expect(metrics).toMatch(/^kubepulse_agent_kubelet_up 1$/m);
  }, 60_000);
});
