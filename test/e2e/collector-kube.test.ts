/**
 * The collector as wired by main.ts, pointed with --kubeconfig at the fake API server
 * serving real fixture objects: kube-state-metrics series reach /metrics and the
 * objects API answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCollector, type Collector } from '../../collector/main.js';
import { loadCollectorConfig } from '../../collector/config.js';
import { noopLogger } from '../../shared/index.js';
import { FakeApiServer, kubeconfigFor, loadNriCluster } from '../fakes/fake-apiserver.js';
import { waitFor } from '../helpers/procs.js';

describe('collector with a cluster (--kubeconfig)', () => {
  let dir: string;
  let api: FakeApiServer;
  let collector: Collector;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kp-kube-e2e-'));
    api = await FakeApiServer.start();
    const { pods, nodes } = loadNriCluster('1.35');
    api.addAll([...nodes, ...pods]);
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigFor(api).exportConfig());
    const { config } = loadCollectorConfig(['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--kubeconfig', kubeconfig, '--cluster', 'e2e'], {});
    collector = await startCollector(config, noopLogger());
  }, 60_000);

  afterAll(async () => {
    await collector?.stop();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exposes kube_* series for the fixture cluster on /metrics', async () => {
    const text = await waitFor('kube_pod_status_phase on /metrics', async () => {
      const body = await (await fetch(`${collector.url}/metrics`)).text();
      return body.includes('kube_pod_status_phase{') && body.includes('kube_node_info{') ? body : undefined;
    }, 45_000, 500);
    const phase = text.split('\n').filter((l) => l.startsWith('kube_pod_status_phase{') && l.includes('phase="Running"'));
    expect(phase.length).toBeGreaterThan(3);
    expect(phase[0]).toContain('cluster="e2e"');
    expect(phase[0]).toContain('job="kube-state-metrics"');
  }, 60_000);

  it('answers the objects API for a fixture node', async () => {
    const { nodes } = loadNriCluster('1.35');
    const name = (nodes[0].metadata as { name: string }).name;
    const r = await fetch(`${collector.url}/api/v1/objects/node/${name}`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { status: string; data: { name: string } };
    expect(body.status).toBe('success');
    expect(body.data.name).toBe(name);
  });
});
