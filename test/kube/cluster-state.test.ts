/**
 * The collector's cluster state end to end: the fake API server (real list/watch JSON)
 * fed with the real fixture objects, the real @kubernetes/client-node informers, the
 * in-memory storage double for series, real SQLite for events and history, and the
 * HTTP API through fastify's inject().
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { FakeApiServer, kubeconfigFor, loadFixtureObjects, loadNriCluster, type KubeObject } from '../fakes/fake-apiserver.js';
import { ClusterState, discoverApiServer, kubeApiPlugin, type HistoryEntry } from '../../collector/kube/index.js';
import { MemoryStorage } from '../../collector/storage/memory.js';
import { STALE_NAN, float64Bits, getLabel, labelsFromObject, labelsKey, sleep, type Labels } from '../../shared/index.js';
import type { Appendable, Appender } from '../../collector/storage/interface.js';

/**
 * Forwards to MemoryStorage and remembers the bits of each series' last appended value:
 * MemoryStorage keeps values in plain arrays, where V8 canonicalises NaN payloads, so
 * stale markers are checked here.
 */
class StaleRecorder implements Appendable {
  readonly last = new Map<string, { labels: Labels; bits: bigint }>();
  constructor(private readonly inner: MemoryStorage) {}
  appender(): Appender {
    const a = this.inner.appender();
    const pending: Array<{ labels: Labels; bits: bigint }> = [];
    return {
      append: (labels, t, v) => {
        a.append(labels, t, v);
        pending.push({ labels, bits: float64Bits(v) });
      },
      updateMetadata: (m) => a.updateMetadata(m),
      commit: () => {
        a.commit();
        for (const p of pending) this.last.set(labelsKey(p.labels), p);
      },
      rollback: () => a.rollback(),
    };
  }
  /** Series named `name` matching `match` whose last appended value is the stale marker. */
  stale(name: string, match: Record<string, string>): Labels[] {
    return [...this.last.values()]
      .filter((x) => getLabel(x.labels, '__name__') === name && Object.entries(match).every(([k, v]) => getLabel(x.labels, k) === v))
      .filter((x) => x.bits === float64Bits(STALE_NAN))
      .map((x) => x.labels);
  }
}

let api: FakeApiServer;
let dir: string;
let state: ClusterState | undefined;
let store: MemoryStorage;
let rec: StaleRecorder;
let app: FastifyInstance | undefined;
let clock: number;

beforeEach(async () => {
  api = await FakeApiServer.start({ bookmarkIntervalMs: 100 });
  dir = mkdtempSync(join(tmpdir(), 'kp-kube-'));
  store = new MemoryStorage();
  rec = new StaleRecorder(store);
  clock = Date.parse('2026-01-01T00:00:00Z');
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await state?.stop();
  state = undefined;
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

async function until(cond: () => boolean, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function startState(extra: Partial<ConstructorParameters<typeof ClusterState>[0]> = {}): Promise<ClusterState> {
  state = new ClusterState({
    kc: kubeconfigFor(api),
    cluster: 'test',
    storage: rec,
    queryable: store,
    dbPath: join(dir, 'kube.db'),
    intervalMs: 3_600_000, // tests flush by hand
    backoffBaseMs: 10,
    backoffMaxMs: 50,
    syncTimeoutMs: 5000,
    now: () => clock,
    ...extra,
  });
  await state.start();
  app = Fastify();
  await app.register(kubeApiPlugin, { state });
  return state;
}

/** Newest value of every series named `name` at or before `clock`. */
function latest(name: string, match: Record<string, string> = {}): Array<{ labels: Labels; v: number }> {
  const q = store.querier(0, clock);
  const out = q
    .select([{ type: '=', name: '__name__', value: name }])
    .filter((s) => Object.entries(match).every(([k, v]) => getLabel(s.labels, k) === v))
    .map((s) => ({ labels: s.labels, v: s.v[s.v.length - 1] }));
  q.close();
  return out;
}

const deployment = (replicas: number, image: string, labels: Record<string, string> = { app: 'web' }): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'web',
    namespace: 'shop',
    labels,
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"secret":"do not keep"}', team: 'a' },
  },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [
          {
            name: 'web',
            image,
            env: [{ name: 'DB_PASSWORD', value: 'hunter2' }],
            resources: { requests: { cpu: '100m', memory: '64Mi' } },
          },
        ],
      },
    },
  },
  status: { replicas, availableReplicas: replicas, updatedReplicas: replicas, readyReplicas: replicas, observedGeneration: 1 },
});
const DEP = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' };

describe('cluster state from the fake API server', () => {
  it('turns the fixture cluster into kube-state-metrics series with job and cluster, and stale markers on delete', async () => {
    const { pods, nodes } = loadNriCluster('1.34');
    api.addAll(nodes);
    api.addAll(pods);
    api.add({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'scraper' }, status: { phase: 'Active' } });
    const s = await startState();
    expect(Object.values(s.watchUp()).every(Boolean)).toBe(true);
    s.flush();
    const phases = latest('kube_pod_status_phase', { phase: 'Running' });
    expect(phases.length).toBe(pods.length - pods.filter((p) => !(p.status as { phase?: string }).phase).length);
    for (const p of phases) {
      expect(getLabel(p.labels, 'job')).toBe('kube-state-metrics');
      expect(getLabel(p.labels, 'cluster')).toBe('test');
    }
    const crash = latest('kube_pod_container_status_waiting_reason', { reason: 'CrashLoopBackOff' });
    expect(crash.length).toBeGreaterThan(0);
    expect(latest('kube_pod_status_unschedulable').length).toBe(1);
    expect(latest('kube_namespace_status_phase', { namespace: 'scraper', phase: 'Active' })[0].v).toBe(1);
    expect(latest('kubepulse_kube_watch_up', { resource: 'pods' })[0].v).toBe(1);

    // Delete the crash-looping pod: its series end with a stale marker at the next flush.
    const victim = getLabel(crash[0].labels, 'pod');
    const vns = getLabel(crash[0].labels, 'namespace');
    api.remove({ apiVersion: 'v1', kind: 'Pod', namespace: vns, name: victim });
    await until(() => s.cached('pods')!.every((p) => p.metadata.name !== victim), 'delete seen');
    clock += 30_000;
    const r = s.flush();
    expect(r.stale).toBeGreaterThan(10);
    expect(rec.stale('kube_pod_info', { pod: victim })).toHaveLength(1);
    expect(rec.stale('kube_pod_container_status_waiting_reason', { pod: victim, reason: 'CrashLoopBackOff' })).toHaveLength(1);
    expect(rec.stale('kube_pod_info', {})).toHaveLength(1); // no other pod's series
    // ...and only once: the next flush writes nothing for it.
    clock += 30_000;
    expect(s.flush().stale).toBe(0);
  });

  it('a changed label value (phase) ends the old series with a stale marker', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'd', uid: 'u1' }, spec: { nodeName: 'n', containers: [{ name: 'c', image: 'i' }] }, status: { phase: 'Running', containerStatuses: [{ name: 'c', ready: true, restartCount: 0, state: { running: { startedAt: '2025-12-31T00:00:00Z' } } }] } };
    api.add(pod);
    const s = await startState({ resources: ['pods'] });
    s.flush();
    api.modify({ apiVersion: 'v1', kind: 'Pod', namespace: 'd', name: 'p' }, (p) => {
      (p.status as Record<string, unknown>).containerStatuses = [{ name: 'c', ready: false, restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { reason: 'OOMKilled', exitCode: 137 } } }];
    });
    await until(() => s.cached('pods')![0].status.containerStatuses[0].restartCount === 1, 'update seen');
    clock += 30_000;
    s.flush();
    expect(latest('kube_pod_container_status_waiting_reason', { pod: 'p' }).map((x) => [getLabel(x.labels, 'reason'), x.v])).toEqual([['CrashLoopBackOff', 1]]);
    expect(latest('kube_pod_container_status_last_terminated_reason', { pod: 'p' }).map((x) => getLabel(x.labels, 'reason'))).toEqual(['OOMKilled']);
    expect(latest('kube_pod_container_status_restarts_total', { pod: 'p' })[0].v).toBe(1);
    expect(latest('kube_pod_container_status_ready', { pod: 'p' })[0].v).toBe(0);
    expect(rec.stale('kube_pod_container_status_running', { pod: 'p' })).toHaveLength(0);
    expect(rec.stale('kube_pod_container_state_started', { pod: 'p' })).toHaveLength(1); // no longer running
  });

  it('records scale, image update, label edit and delete in the history, and nothing for no-op resyncs', async () => {
    api.add(deployment(1, 'shop/web:1.0'));
    const s = await startState({ resources: ['deployments', 'namespaces'] });
    const rv = () => s.cached('deployments')![0]?.metadata.resourceVersion;
    const step = async (fn: () => void, what: string) => {
      const before = rv();
      clock += 60_000;
      fn();
      await until(() => rv() !== before || (s.cached('deployments')!.length === 0), what);
    };
    await step(() => api.update(deployment(3, 'shop/web:1.0')), 'scale');
    await step(() => api.update(deployment(3, 'shop/web:1.1')), 'image');
    await step(() => api.update(deployment(3, 'shop/web:1.1', { app: 'web', tier: 'front' })), 'label');
    // A status-only change and a resync-style no-op update: new resourceVersions, no entries.
    await step(() => api.modify(DEP, (d) => ((d.status as Record<string, number>).availableReplicas = 2)), 'status');
    await step(() => api.update(api.get(DEP)!), 'noop');
    // A full relist (410) re-delivers nothing new either.
    api.expireWatches();
    await until(() => api.openWatches === 2, 'rewatch');
    await step(() => api.remove(DEP), 'delete');

    const res = await app!.inject('/api/v1/objects/deployments/shop/web/history');
    expect(res.statusCode).toBe(200);
    const h = (res.json() as { data: HistoryEntry[] }).data;
    expect(h.map((e) => e.change)).toEqual(['deleted', 'updated', 'updated', 'updated', 'added']);
    const [, label, image, scale, added] = h;
    expect(scale.diff).toEqual([{ op: 'replace', path: '/spec/replicas', old: 1, new: 3 }]);
    expect(scale.generation).toBe(2);
    expect(image.diff).toEqual([{ op: 'replace', path: '/spec/containers/web/image', old: 'shop/web:1.0', new: 'shop/web:1.1' }]);
    expect(label.diff).toEqual([{ op: 'add', path: '/labels/tier', new: 'front' }]);
    expect(added.diff).toContainEqual({ op: 'add', path: '/spec/replicas', new: 1 });
    expect(added.diff).toContainEqual({ op: 'add', path: '/labels/app', new: 'web' });
    expect(h[0].time).toBeGreaterThan(h[1].time);
    // Env values and the last-applied annotation are never stored; env names are.
    const raw = JSON.stringify(h);
    expect(raw).not.toContain('hunter2');
    expect(raw).not.toContain('last-applied');
    expect(raw).toContain('DB_PASSWORD');

    // The deleted object is still described, with its deletion time.
    const obj = await app!.inject('/api/v1/objects/deployment/shop/web');
    expect(obj.json()).toMatchObject({ status: 'success', data: { name: 'web', namespace: 'shop', deleted: clock, labels: { tier: 'front' } } });
  });

  it('keeps watching through dropped connections and 410 Gone, with watch_up following', async () => {
    api.add({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
    const s = await startState({ resources: ['nodes'] });
    await until(() => api.openWatches === 1, 'watch');
    api.dropWatches();
    await until(() => !s.watchUp().nodes || api.openWatches === 1, 'down or back');
    api.add({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2' } });
    await until(() => s.cached('nodes')!.length === 2 && s.watchUp().nodes, 'n2 after reconnect');
    // While the watch is expired, a node disappears: only the relist can notice.
    api.failNext('/api/v1/nodes', 500, { watch: false });
    api.expireWatches();
    api.remove({ apiVersion: 'v1', kind: 'Node', name: 'n1' });
    await until(() => s.cached('nodes')!.map((n) => n.metadata.name).join() === 'n2' && s.watchUp().nodes, 'relisted');
    expect(api.requests.filter((r) => r.path === '/api/v1/nodes' && !r.watch).length).toBeGreaterThanOrEqual(3);
    // History noticed the deletion.
    const h = await app!.inject('/api/v1/objects/nodes/n1/history');
    expect((h.json() as { data: HistoryEntry[] }).data[0].change).toBe('deleted');
  });

  it('stores events deduplicated by UID, counts occurrences, filters and pages', async () => {
    const registry = new Registry();
    const mk = (name: string, reason: string, type: string, count: number, last: string): KubeObject => ({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace: 'shop', uid: `uid-${name}` },
      regarding: { kind: 'Pod', name: `pod-${name}`, namespace: 'shop' },
      reason,
      type,
      note: `${reason} happened`,
      eventTime: '2026-01-01T00:00:00.000000Z',
      series: count > 1 ? { count, lastObservedTime: last } : undefined,
      reportingController: 'kubelet',
    });
    api.add(mk('a', 'BackOff', 'Warning', 1, ''));
    api.add(mk('b', 'Pulled', 'Normal', 1, ''));
    const s = await startState({ resources: ['events'], registry });
    api.update(mk('a', 'BackOff', 'Warning', 5, '2026-01-01T00:05:00.000000Z'));
    api.update(mk('a', 'BackOff', 'Warning', 5, '2026-01-01T00:05:00.000000Z')); // a resync: no new occurrences
    await until(() => s.events({ reason: 'BackOff' }).events[0]?.count === 5, 'count update');
    expect(s.events({}).total).toBe(2);
    clock += 30_000;
    s.flush();
    expect(latest('kubepulse_kube_events_total', { reason: 'BackOff', type: 'Warning', kind: 'Pod', namespace: 'shop' })[0].v).toBe(5);
    expect((await registry.getSingleMetricAsString('kubepulse_kube_events_total'))).toContain('reason="BackOff"');
    // The Event object expiring from the API (TTL) keeps it stored.
    api.remove({ apiVersion: 'events.k8s.io/v1', kind: 'Event', namespace: 'shop', name: 'b' });

    const get = async (q: string) => (await app!.inject(`/api/v1/events?${q}`)).json() as { data: { events: Array<{ name: string; count: number; message: string }>; total: number; nextOffset?: number } };
    expect((await get('type=Warning')).data.events.map((e) => [e.name, e.count, e.message])).toEqual([['pod-a', 5, 'BackOff happened']]);
    expect((await get('kind=Pod&namespace=shop&name=pod-b')).data.total).toBe(1);
    const p1 = await get('limit=1');
    expect(p1.data.events.length).toBe(1);
    expect(p1.data.nextOffset).toBe(1);
    expect((await get('limit=1&offset=1')).data.events[0].name).not.toBe(p1.data.events[0].name);
    expect((await get(`start=${Date.parse('2026-01-01T00:01:00Z') / 1000}`)).data.events.map((e) => e.name)).toEqual(['pod-a']);
    expect((await get('cluster=other')).data.total).toBe(0);
    const bad = await app!.inject('/api/v1/events?start=yesterday');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ status: 'error', errorType: 'bad_data' });
  });

  it('falls back to core/v1 events when events.k8s.io is not served', async () => {
    api.unregisterResource('events.k8s.io', 'v1', 'events');
    api.addAll(loadFixtureObjects('k8s-api-objects/k9s/ev.json'));
    // The fixture event is from 2019: keep it past the default 7-day retention.
    const s = await startState({ resources: ['events'], eventsRetentionMs: 1e13 });
    const ev = s.events({}).events;
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({ kind: 'Pod', name: 'hello-1567197780-mn4mv', reason: 'Pulled', type: 'Normal', count: 1 });
  });

  it('serves objects, both URL forms of cluster-scoped kinds, and the topology with usage', async () => {
    const { pods, nodes } = loadNriCluster('1.31');
    api.addAll(nodes);
    api.addAll(pods);
    const node = nodes[0].metadata!.name!;
    const s = await startState({ resources: ['nodes', 'pods', 'replicasets'] });
    const pod = pods.find((p) => p.metadata?.name?.startsWith('coredns'))!;
    // Usage pushed by an agent: a CPU counter over a minute and the working set.
    const base = { namespace: 'kube-system', pod: pod.metadata!.name!, container: 'coredns', cluster: 'test' };
    store.add(labelsFromObject({ ...base, __name__: 'container_cpu_usage_seconds_total' }), clock - 60_000, 10);
    store.add(labelsFromObject({ ...base, __name__: 'container_cpu_usage_seconds_total' }), clock, 40);
    store.add(labelsFromObject({ ...base, __name__: 'container_memory_working_set_bytes' }), clock, 5e7);

    const o = (await app!.inject(`/api/v1/objects/pods/kube-system/${pod.metadata!.name}`)).json();
    expect(o.data).toMatchObject({ kind: 'Pod', namespace: 'kube-system', uid: pod.metadata!.uid, owners: [{ kind: 'ReplicaSet', controller: true }], status: { phase: 'Running' } });
    for (const url of [`/api/v1/objects/nodes/${node}`, `/api/v1/objects/Node/_/${node}`]) {
      expect((await app!.inject(url)).json().data).toMatchObject({ kind: 'Node', name: node, namespace: '', status: { ready: 'True' } });
    }
    expect((await app!.inject(`/api/v1/objects/nodes/${node}/history`)).json().data[0].change).toBe('added');
    expect((await app!.inject('/api/v1/objects/pods/nope')).statusCode).toBe(400);
    expect((await app!.inject('/api/v1/objects/pods/default/nope')).statusCode).toBe(404);
    expect((await app!.inject('/api/v1/objects/secrets/default/x')).statusCode).toBe(400);

    const topo = (await app!.inject('/api/v1/topology?namespace=kube-system')).json().data;
    expect(topo.nodes.map((n: { name: string }) => n.name)).toEqual([node]);
    const tp = topo.nodes[0].pods.find((p: { name: string }) => p.name === pod.metadata!.name);
    expect(tp.workload).toMatchObject({ kind: 'ReplicaSet' }); // its ReplicaSet object is not in the fixtures
    const c = tp.containers[0];
    expect(c.usage.cpu).toBeCloseTo(0.5, 6);
    expect(c.usage.memory).toBe(5e7);
    expect(c.requests).toEqual({ cpu: 0.1, memory: 70 * 2 ** 20 });
    expect(topo.nodes[0].usage.memory).toBe(5e7);
    expect(topo.nodes[0].pods.every((p: { namespace: string }) => p.namespace === 'kube-system')).toBe(true);
    void s;
  });
});

describe('discovery and the API without a cluster', () => {
  it('uses --kubeconfig, refuses a broken one, and runs without cluster state otherwise', async () => {
    const file = join(dir, 'kubeconfig');
    writeFileSync(file, kubeconfigFor(api).exportConfig());
    const d = discoverApiServer({ kubeconfig: file });
    expect(d.mode).toBe('kubeconfig');
    expect(d.kc?.getCurrentCluster()?.server).toBe(api.url);
    expect(() => discoverApiServer({ kubeconfig: join(dir, 'missing') })).toThrow(/reading kubeconfig .*missing/);
    const lines: string[] = [];
    const logger = { info: (...a: unknown[]) => lines.push(String(a[a.length - 1])) } as never;
    expect(discoverApiServer({ env: {}, logger }).mode).toBe('none');
    expect(lines).toEqual([expect.stringMatching(/running without cluster state/)]);
    expect(discoverApiServer({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, tokenFile: file }).mode).toBe('in-cluster');

    app = Fastify();
    await app.register(kubeApiPlugin, { state: undefined });
    const r = await app.inject('/api/v1/topology');
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ status: 'error', errorType: 'unavailable' });
  });
});
