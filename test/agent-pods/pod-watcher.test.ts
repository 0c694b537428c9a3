/**
 * The node-scoped pod watch against the fake API server: the real pod list of a capture,
 * fieldSelector scoping, events, dropped watches, 410 relists and failing lists, and
 * pod naming for the kubelet source end to end.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeApiServer, kubeconfigFor, loadNriCluster, type KubeObject } from '../fakes/fake-apiserver.js';
import { startFakeKubelet, type FakeKubelet } from '../fakes/fake-kubelet.js';
import { PodWatcher, stripContainerIdScheme } from '../../agent/discovery/index.js';
import { kubeconfigConnection, type KubeConnection } from '../../agent/discovery/kube-connection.js';
import { KubeletSource } from '../../agent/sources/kubelet/index.js';
import { fixture } from '../helpers/paths.js';
import { RecordingContext, RecordingSink } from './helpers.js';

const NODE = 'datagen-1-35';

/** Polls `cond` every 20 ms, at most `ms`. */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function pod(name: string, node: string, uid: string, cid = ''): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid },
    spec: { nodeName: node, containers: [{ name: 'app', image: `img/${name}:1` }] },
    status: { phase: 'Running', containerStatuses: cid ? [{ name: 'app', containerID: `containerd://${cid}`, image: `img/${name}:1`, imageID: '', ready: true, restartCount: 0 }] : [] },
  };
}

/** The connection of a kubeconfig written by client-node for `api` (the real file format). */
async function connectionFor(api: FakeApiServer): Promise<KubeConnection> {
  const dir = mkdtempSync(join(tmpdir(), 'pod-watcher-'));
  try {
    writeFileSync(join(dir, 'kubeconfig'), kubeconfigFor(api).exportConfig());
    return await kubeconfigConnection(join(dir, 'kubeconfig'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('pod watcher', () => {
  let api: FakeApiServer;
  let conn: KubeConnection;
  const watchers: PodWatcher[] = [];
  const cluster = loadNriCluster('1.35');
  const onNode = cluster.pods.filter((p) => (p.spec as { nodeName?: string } | undefined)?.nodeName === NODE);

  beforeAll(async () => {
    api = await FakeApiServer.start();
    api.addAll(cluster.pods);
    api.add(pod('elsewhere', 'other-node', '11111111-2222-3333-4444-555555555555'));
    conn = await connectionFor(api);
  });
  afterEach(async () => {
    for (const w of watchers.splice(0)) await w.stop();
  });
  afterAll(async () => {
    await api.close();
  });

  const make = () => {
    const w = new PodWatcher({ connection: conn, nodeName: NODE, minBackoffMs: 10, maxBackoffMs: 50, startTimeoutMs: 5000 });
    watchers.push(w);
    return w;
  };

  it('lists only this node\'s pods (fieldSelector) and maps UIDs and container IDs', async () => {
    const w = make();
    await w.start();
    expect(w.synced()).toBe(true);
    expect(w.size()).toBe(onNode.length);
    expect(w.pod('11111111-2222-3333-4444-555555555555')).toBeUndefined();
    const reqs = api.requests.filter((r) => r.path === '/api/v1/pods');
    expect(reqs.length).toBeGreaterThan(0);
    expect(reqs.every((r) => r.query.fieldSelector === `spec.nodeName=${NODE}`)).toBe(true);
    let ids = 0;
    for (const p of onNode) {
      const meta = p.metadata as { uid: string; name: string; namespace: string };
      expect(w.pod(meta.uid)?.name).toBe(meta.name);
      const statuses = ((p.status as { containerStatuses?: Array<{ containerID?: string; name: string }> }).containerStatuses ?? []).filter((s) => s.containerID);
      for (const s of statuses) {
        const ref = w.container(stripContainerIdScheme(s.containerID));
        expect(ref?.container.name).toBe(s.name);
        expect(ref?.pod.namespace).toBe(meta.namespace);
        ids++;
      }
    }
    expect(ids).toBeGreaterThan(5);
  });

  it('applies adds and deletes, and recovers from a dropped watch', async () => {
    const w = make();
    await w.start();
    const uid = 'aaaaaaaa-0000-0000-0000-000000000001';
    api.add(pod('scaled-1', NODE, uid, 'a'.repeat(64)));
    await until(() => w.pod(uid) !== undefined);
    expect(w.container('a'.repeat(64))?.container.image).toBe('img/scaled-1:1');
    api.dropWatches();
    const uid2 = 'aaaaaaaa-0000-0000-0000-000000000002';
    api.add(pod('scaled-2', NODE, uid2));
    await until(() => w.pod(uid2) !== undefined);
    api.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'scaled-1' });
    await until(() => w.pod(uid) === undefined);
    expect(w.container('a'.repeat(64))).toBeUndefined();
    api.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'scaled-2' });
    await until(() => w.pod(uid2) === undefined);
  });

  it('relists after 410 Gone and drops pods deleted while it was away', async () => {
    const w = make();
    const uid = 'bbbbbbbb-0000-0000-0000-000000000001';
    api.add(pod('doomed', NODE, uid));
    await w.start();
    expect(w.pod(uid)).toBeDefined();
    const listsBefore = api.requests.filter((r) => r.path === '/api/v1/pods' && !r.watch).length;
    api.dropWatches();
    api.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'doomed' });
    api.compactBefore();
    await until(() => w.pod(uid) === undefined);
    expect(api.requests.filter((r) => r.path === '/api/v1/pods' && !r.watch).length).toBeGreaterThan(listsBefore);
    // expireWatches: a 410 ERROR event on the open stream.
    const uid2 = 'bbbbbbbb-0000-0000-0000-000000000002';
    api.expireWatches();
    api.add(pod('after-410', NODE, uid2));
    await until(() => w.pod(uid2) !== undefined);
    api.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'after-410' });
  });

  it('retries a failing first list with backoff until it syncs', async () => {
    api.failNext('/api/v1/pods', 500, { times: 3, watch: false });
    const errors: string[] = [];
    const w = new PodWatcher({ connection: conn, nodeName: NODE, minBackoffMs: 10, maxBackoffMs: 40, startTimeoutMs: 5000, metrics: { error: (r) => errors.push(r) } });
    watchers.push(w);
    await w.start();
    expect(w.synced()).toBe(true);
    expect(w.size()).toBe(onNode.length);
    expect(errors).toEqual(['http_500', 'http_500', 'http_500']);
  });

  it('refuses to start without a node name', () => {
    expect(() => new PodWatcher({ connection: conn, nodeName: '' })).toThrow(/NODE_NAME/);
  });

  describe('naming kubelet summary series', () => {
    let k: FakeKubelet;
    beforeAll(async () => {
      k = await startFakeKubelet({ summary: readFileSync(fixture('kubelet-summary/nri-kubernetes/k8s-1.35/stats-summary.json'), 'utf8'), tls: false });
    });
    afterAll(async () => {
      await k.close();
    });

    it('gives every container of a watched pod its image, and counts summary pods the watch lacks', async () => {
      const w = make();
      await w.start();
      const src = new KubeletSource({ kubelet: { url: k.url, tokenFile: k.tokenFile }, podIndex: w });
      const sink = new RecordingSink();
      const ctx = new RecordingContext();
      await src.collect(sink, ctx);
      const summary = JSON.parse(readFileSync(fixture('kubelet-summary/nri-kubernetes/k8s-1.35/stats-summary.json'), 'utf8'));
      let named = 0;
      for (const p of summary.pods) {
        const info = w.pod(p.podRef.uid);
        for (const c of p.containers) {
          const image = info?.containers.find((x) => x.name === c.name)?.image ?? '';
          const v = sink.get('container_memory_working_set_bytes', { namespace: p.podRef.namespace, pod: p.podRef.name, container: c.name, image });
          expect(v, `${p.podRef.name}/${c.name}`).toBe(c.memory.workingSetBytes);
          if (image) named++;
        }
      }
      expect(named).toBeGreaterThan(10);
      expect(ctx.reasons()).toEqual(['pod_unknown']);
      expect((ctx.errors[0].err as Error).message).toMatch(/^4 pod\(s\)/);
    });
  });
});
