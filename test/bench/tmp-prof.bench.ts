import { it } from 'vitest';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { FakeApiServer, kubeconfigFor, loadNriCluster } from '../fakes/fake-apiserver.js';
import { ClusterState } from '../../collector/kube/index.js';
it('prof', async () => {
  const api = await FakeApiServer.start();
  const { pods, nodes } = loadNriCluster('1.35');
  const t = pods.find((p) => p.metadata?.name?.startsWith('coredns'))!;
  for (let i = 0; i < 100; i++) { const n = structuredClone(nodes[0]); n.metadata!.name = `node-${i}`; api.add(n); }
  for (let i = 0; i < 3000; i++) { const p = structuredClone(t); p.metadata!.name = `p-${i}`; p.metadata!.uid = `u${i}`; (p.spec as any).nodeName = `node-${i % 100}`; api.add(p); }
  const s = new Session(); s.connect(); await s.post('Profiler.enable'); await s.post('Profiler.start');
  const st = new ClusterState({ kc: kubeconfigFor(api), cluster: 'b', storage: { appender: () => ({ append() {}, updateMetadata() {}, commit() {}, rollback() {} }) }, dbPath: ':memory:', intervalMs: 1e9, resources: ['nodes', 'pods'] });
  const t0 = performance.now(); await st.start(); console.log('sync ms', performance.now() - t0);
  const { profile } = await s.post('Profiler.stop');
  const self = new Map<string, number>();
  const nodesById = new Map(profile.nodes.map((n: any) => [n.id, n]));
  const dt = profile.timeDeltas; const samples = profile.samples;
  for (let i = 0; i < samples.length; i++) { const n: any = nodesById.get(samples[i]); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`; self.set(k, (self.get(k) ?? 0) + (dt[i] ?? 0)); }
  console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `${(v / 1000).toFixed(0)}ms ${k}`).join('\n'));
  await st.stop(); await api.close();
});
