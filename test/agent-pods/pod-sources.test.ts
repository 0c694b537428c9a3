/**
 * createPodSources: the three modes end to end through the Sampler — host, kubelet-only
 * (`--kube-api off`), and kubernetes (fake API server + fake kubelet + generated cgroups).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Registry } from '../../agent/metrics-registry.js';
import { getLabel } from '../../shared/index.js';
import { Sampler } from '../../agent/sampler.js';
import { createPodSources } from '../../agent/sources/kubelet/index.js';
import { FakeApiServer, kubeconfigFor } from '../fakes/fake-apiserver.js';
import { startFakeKubelet } from '../fakes/fake-kubelet.js';
import { generateKubepodsTree, summaryFor, valuesFor } from './cgroup-tree.js';
import { fixture } from '../helpers/paths.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pod-sources-'));
  dirs.push(d);
  return d;
}

describe('createPodSources', () => {
  it('is host mode without an API and without a kubelet URL', async () => {
    const root = tmp();
    generateKubepodsTree(root, { version: 2, driver: 'systemd', runtime: 'containerd', pods: 1 });
    const ps = await createPodSources({ cgroupRoot: root, env: {} });
    expect(ps.mode).toBe('host');
    const batch = await new Sampler({ sources: ps.sources, baseLabels: {}, intervalMs: 10_000 }).tick();
    const containers = new Set(batch.series.map((s) => getLabel(s.labels, 'container')));
    // The generated root has no interface files of its own, so no '/' row here (the live test covers a real root).
    expect(containers.has('/')).toBe(false);
    expect([...containers].some((c) => c.startsWith('/kubepods.slice/kubepods-pod'))).toBe(true);
  });

  it('with --kube-api off and a kubelet URL names pods from the summary, cgroup pod rows one tick later', async () => {
    const root = tmp();
    const tree = generateKubepodsTree(root, { version: 2, driver: 'cgroupfs', runtime: 'containerd', pods: 3 });
    const k = await startFakeKubelet({ summary: summaryFor(tree) });
    try {
      const registry = new Registry();
      const ps = await createPodSources({ kubeApi: 'off', kubeletUrl: k.url, tokenFile: k.tokenFile, caFile: k.caFile, cgroupRoot: root, env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, registry });
      expect(ps.mode).toBe('kubelet-only');
      let now = 1_000_000;
      const sampler = new Sampler({ sources: ps.sources, baseLabels: {}, intervalMs: 10_000, now: () => now });
      const b1 = await sampler.tick();
      expect(b1.series.filter((s) => getLabel(s.labels, '__name__') === 'container_cpu_usage_seconds_total' && getLabel(s.labels, 'pod') !== '').length).toBe(3 + 6);
      expect(b1.series.some((s) => getLabel(s.labels, '__name__') === 'container_cpu_cfs_periods_total')).toBe(false);
      now += 10_000;
      const b2 = await sampler.tick();
      const throttling = b2.series.filter((s) => getLabel(s.labels, '__name__') === 'container_cpu_cfs_periods_total');
      expect(throttling.map((s) => getLabel(s.labels, 'pod')).sort()).toEqual(['pod-0', 'pod-1', 'pod-2']);
      const pod0 = tree.cgroups.find((c) => c.labels.pod === 'pod-0' && c.labels.container === '')!;
      expect(throttling.find((s) => getLabel(s.labels, 'pod') === 'pod-0')!.samples[0].v).toBe(valuesFor(pod0.n).periods);
      expect(await registry.getSingleMetricAsString('kubepulse_agent_kubelet_up')).toMatch(/ 1$/m);
    } finally {
      await k.close();
    }
  });

  it('in kubernetes mode watches pods and names every container of both sources with its image', async () => {
    const root = tmp();
    const tree = generateKubepodsTree(root, { version: 1, driver: 'systemd', runtime: 'containerd', pods: 4 });
    const api = await FakeApiServer.start();
    const k = await startFakeKubelet({ summary: summaryFor(tree) });
    const ps = await (() => {
      api.addAll(tree.pods.map((p) => ({ ...p, apiVersion: 'v1', kind: 'Pod' }) as never));
      const kcFile = join(tmp(), 'kubeconfig');
      writeFileSync(kcFile, kubeconfigFor(api).exportConfig());
      return createPodSources({ kubeconfig: kcFile, nodeName: 'node-1', kubeletUrl: k.url, tokenFile: k.tokenFile, caFile: k.caFile, cgroupRoot: root, env: {}, registry: new Registry() });
    })();
    try {
      expect(ps.mode).toBe('kubernetes');
      for (const s of ps.services) await s.start();
      expect(ps.podWatcher!.size()).toBe(4);
      const batch = await new Sampler({ sources: ps.sources, baseLabels: { node: 'node-1' }, intervalMs: 10_000 }).tick();
      for (const cg of tree.cgroups.filter((c) => c.labels.container !== '')) {
        const has = (name: string) =>
          batch.series.some((s) => getLabel(s.labels, '__name__') === name && getLabel(s.labels, 'pod') === cg.labels.pod && getLabel(s.labels, 'container') === cg.labels.container && getLabel(s.labels, 'image') === cg.labels.image);
        expect(has('container_cpu_usage_seconds_total'), cg.rel).toBe(true);
        expect(has('container_cpu_cfs_throttled_periods_total'), cg.rel).toBe(true);
      }
    } finally {
      for (const s of ps.services) await s.stop();
      await k.close();
      await api.close();
    }
  });

  it('with --kube-api off and no readable cgroups runs the kubelet source alone, PSI from the summary', async () => {
    const k = await startFakeKubelet({ summary: readFileSync(fixture('kubelet-summary/nri-kubernetes/k8s-1.35/stats-summary.json'), 'utf8'), tls: false });
    try {
      const ps = await createPodSources({ kubeApi: 'off', kubeletUrl: k.url, tokenFile: k.tokenFile, cgroupRoot: join(tmp(), 'nothing'), env: {} });
      expect(ps.mode).toBe('kubelet-only');
      expect(ps.sources.map((s) => s.name)).toEqual(['kubelet']);
      const batch = await new Sampler({ sources: ps.sources, baseLabels: {}, intervalMs: 10_000 }).tick();
      expect(batch.series.some((s) => getLabel(s.labels, '__name__') === 'container_pressure_cpu_waiting_seconds_total')).toBe(true);
    } finally {
      await k.close();
    }
  });

  it.each([
    [{ kubeApi: 'sometimes' as never }, /--kube-api must be "auto" or "off"/],
    [{ kubeconfig: 'KC', env: {} }, /NODE_NAME is not set/],
    [{ kubeconfig: 'KC', nodeName: 'n1', env: {} }, /set NODE_IP .* or --kubelet-url/],
  ])('refuses %j clearly', async (opts, re) => {
    const kcFile = join(tmp(), 'kubeconfig');
    writeFileSync(kcFile, kubeconfigFor('http://127.0.0.1:1').exportConfig());
    const o = { ...opts, ...('kubeconfig' in opts ? { kubeconfig: kcFile } : {}) };
    await expect(createPodSources(o)).rejects.toThrow(re);
  });
});
