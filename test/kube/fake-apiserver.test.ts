/**
 * The fake API server, exercised through the real @kubernetes/client-node 1.4 with the
 * real fixture objects: typed list calls, informers, ListWatch with a field selector,
 * raw watch streams (bookmarks, 410), dropped connections and TokenReview.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import {
  AppsV1Api,
  CoreV1Api,
  ListWatch,
  Watch,
  makeInformer,
  type KubernetesObject,
  type V1Pod,
} from '@kubernetes/client-node';
import { FakeApiServer, kubeconfigFor, loadFixtureObjects, loadNriCluster, type KubeObject } from '../fakes/fake-apiserver.js';

let api: FakeApiServer;
beforeEach(async () => {
  api = await FakeApiServer.start({ bookmarkIntervalMs: 50, tokens: { 'good-token': { username: 'system:serviceaccount:kp:agent', groups: ['system:serviceaccounts'] } } });
});
afterEach(async () => {
  await api.close();
});

/** Polls `cond` every 10 ms, failing after `ms`. */
async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Reads the raw watch stream for `ms` and returns its parsed lines. */
function rawWatch(path: string, ms: number): Promise<{ status: number; events: Array<{ type: string; object: KubeObject }> }> {
  return new Promise((resolve, reject) => {
    const req = request(api.url + path, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (buf += c));
      const done = () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, events: buf.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; object: KubeObject }) });
      };
      res.on('end', done);
      const timer = setTimeout(() => {
        req.destroy();
        done();
      }, ms);
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    req.end();
  });
}

describe('fake apiserver through client-node', () => {
  it('lists the fixture pods and nodes with the typed clients, with selectors', async () => {
    const { pods, nodes } = loadNriCluster('1.31');
    api.addAll(nodes);
    api.addAll(pods);
    const core = kubeconfigFor(api).makeApiClient(CoreV1Api);
    const all = await core.listPodForAllNamespaces();
    expect(all.items.length).toBe(pods.length);
    expect(Number(all.metadata?.resourceVersion)).toBe(Number(api.resourceVersion));
    const nodeName = nodes[0].metadata!.name!;
    const onNode = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` });
    expect(onNode.items.length).toBe(pods.filter((p) => (p.spec as { nodeName?: string }).nodeName === nodeName).length);
    expect(onNode.items.length).toBeGreaterThan(0);
    expect(onNode.items.length).toBeLessThan(pods.length); // the Unschedulable pod has no node
    const ks = await core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=kube-dns' });
    expect(ks.items.map((p) => p.metadata?.name).sort()).toEqual(
      pods.filter((p) => p.metadata?.namespace === 'kube-system' && p.metadata.labels?.['k8s-app'] === 'kube-dns').map((p) => p.metadata!.name).sort(),
    );
    const byName = await core.listNode({ fieldSelector: `metadata.name=${nodeName}` });
    expect(byName.items.map((n) => n.metadata?.name)).toEqual([nodeName]);
    const one = await core.readNamespacedPod({ namespace: pods[0].metadata!.namespace!, name: pods[0].metadata!.name! });
    expect(one.metadata?.uid).toBe(pods[0].metadata!.uid);
    await expect(core.readNamespacedPod({ namespace: 'default', name: 'nope' })).rejects.toMatchObject({ code: 404 });
  });

  it('pages with limit and continue', async () => {
    api.addAll(loadNriCluster('1.31').pods);
    const core = kubeconfigFor(api).makeApiClient(CoreV1Api);
    const names: string[] = [];
    let cont: string | undefined;
    for (let i = 0; i < 100; i++) {
      const page = await core.listPodForAllNamespaces({ limit: 5, _continue: cont });
      names.push(...page.items.map((p) => p.metadata!.name!));
      cont = page.metadata?._continue;
      if (!cont) break;
    }
    expect(names.length).toBe(api.list('v1', 'Pod').length);
    expect(new Set(names).size).toBe(names.length);
  });

  it('feeds an informer: adds, updates, deletes in order, and bumps generation on spec change', async () => {
    const apps = kubeconfigFor(api).makeApiClient(AppsV1Api);
    const kc = kubeconfigFor(api);
    const inf = makeInformer(kc, '/apis/apps/v1/deployments', () => apps.listDeploymentForAllNamespaces());
    const seen: string[] = [];
    inf.on('add', (o: KubernetesObject) => seen.push(`add ${o.metadata?.name}`));
    inf.on('update', (o: KubernetesObject) => seen.push(`update ${o.metadata?.name} gen=${o.metadata?.generation}`));
    inf.on('delete', (o: KubernetesObject) => seen.push(`delete ${o.metadata?.name}`));
    api.add({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: 1 } });
    await inf.start();
    expect(seen).toEqual(['add web']);
    api.modify({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'web' }, (d) => {
      (d.spec as { replicas: number }).replicas = 3;
    });
    api.modify({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'web' }, (d) => {
      d.metadata!.labels = { tier: 'front' };
    });
    api.remove({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'web' });
    await until(() => seen.length === 4, 5000, 'informer events');
    expect(seen).toEqual(['add web', 'update web gen=2', 'update web gen=2', 'delete web']);
    await inf.stop();
  });

  it('ListWatch with spec.nodeName selector sees only its node and survives dropped connections', async () => {
    const { pods, nodes } = loadNriCluster('1.35');
    api.addAll(pods);
    const node = nodes[0].metadata!.name!;
    const kc = kubeconfigFor(api);
    const core = kc.makeApiClient(CoreV1Api);
    const sel = `spec.nodeName=${node}`;
    const lw = new ListWatch<V1Pod>('/api/v1/pods', new Watch(kc), () => core.listPodForAllNamespaces({ fieldSelector: sel }), false, undefined, sel);
    let connects = 0;
    const errors: unknown[] = [];
    lw.on('connect', () => connects++);
    lw.on('error', (e) => errors.push(e));
    await lw.start();
    const onNode = pods.filter((p) => (p.spec as { nodeName?: string }).nodeName === node).length;
    expect(lw.list().length).toBe(onNode);
    await until(() => api.openWatches === 1, 5000, 'watch open');
    expect(api.requests.some((r) => r.watch && r.query.fieldSelector === sel)).toBe(true);

    // A pod on another node is not delivered; one on this node is.
    api.add({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'elsewhere', namespace: 'default' }, spec: { nodeName: 'other', containers: [] } });
    api.add({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'here', namespace: 'default' }, spec: { nodeName: node, containers: [] } });
    await until(() => lw.get('here', 'default') !== undefined, 5000, 'pod here');
    expect(lw.get('elsewhere', 'default')).toBeUndefined();

    // A clean end of the stream (server timeout): ListWatch re-watches from its resourceVersion.
    api.closeWatches();
    await until(() => connects >= 2 && api.openWatches === 1, 5000, 'rewatch');
    api.remove({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'here' });
    await until(() => lw.get('here', 'default') === undefined, 5000, 'delete seen');

    // An abrupt cut: client-node 1.4 reports an error and stops (callers must restart).
    api.dropWatches();
    await until(() => errors.length > 0, 5000, 'error on dropped watch');
    await lw.stop();
  });

  it('answers a too-old resourceVersion with ERROR 410, and ListWatch relists', async () => {
    const kc = kubeconfigFor(api);
    const core = kc.makeApiClient(CoreV1Api);
    api.add({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } });
    const lw = new ListWatch('/api/v1/namespaces', new Watch(kc), () => core.listNamespace(), false);
    const deleted: string[] = [];
    lw.on('delete', (o) => deleted.push(o.metadata!.name!));
    await lw.start();
    await until(() => api.openWatches === 1, 5000, 'watch open');
    const listsBefore = api.requests.filter((r) => r.path === '/api/v1/namespaces' && !r.watch).length;
    // While the watch is expired, 'a' is deleted and 'b' created: only a relist can tell.
    api.expireWatches();
    await until(() => api.requests.filter((r) => r.path === '/api/v1/namespaces' && !r.watch).length > listsBefore, 5000, 'relist');
    await until(() => api.openWatches === 1, 5000, 'rewatch');
    api.remove({ apiVersion: 'v1', kind: 'Namespace', name: 'a' });
    api.add({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } });
    await until(() => lw.get('b') !== undefined && deleted.includes('a'), 5000, 'state after relist');
    await lw.stop();

    // The raw stream: one ERROR event with a 410 Status, then the end.
    const old = Number(api.resourceVersion) - 2;
    api.compactBefore();
    const { events } = await rawWatch(`/api/v1/namespaces?watch=true&resourceVersion=${old}`, 2000);
    expect(events).toHaveLength(1);
    expect(events[0].type).toBe('ERROR');
    expect(events[0].object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
  });

  it('streams ADDED/MODIFIED/DELETED and BOOKMARK lines from a resourceVersion', async () => {
    api.add({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { pool: 'a' } } });
    const rv = api.resourceVersion;
    api.update({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { pool: 'b' } } });
    api.add({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2', labels: { pool: 'a' } } });
    api.remove({ apiVersion: 'v1', kind: 'Node', name: 'n2' });
    const { status, events } = await rawWatch(`/api/v1/nodes?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`, 300);
    expect(status).toBe(200);
    const data = events.filter((e) => e.type !== 'BOOKMARK');
    expect(data.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['MODIFIED n1', 'ADDED n2', 'DELETED n2']);
    expect(data[0].object).toMatchObject({ apiVersion: 'v1', kind: 'Node' });
    const marks = events.filter((e) => e.type === 'BOOKMARK');
    expect(marks.length).toBeGreaterThan(0);
    expect(marks[0].object.metadata?.resourceVersion).toBe(api.resourceVersion);
    // A label change that leaves the selector is a DELETED for that watch.
    const sel = await rawWatch(`/api/v1/nodes?watch=true&resourceVersion=${rv}&labelSelector=pool%3Da`, 300);
    expect(sel.events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['DELETED n1', 'ADDED n2', 'DELETED n2']);
  });

  it('injects failures and answers with Status objects', async () => {
    api.failNext('/api/v1/pods', 503);
    const core = kubeconfigFor(api).makeApiClient(CoreV1Api);
    await expect(core.listPodForAllNamespaces()).rejects.toMatchObject({ code: 503 });
    await expect(core.listPodForAllNamespaces()).resolves.toMatchObject({ items: [] });
    const r = await fetch(`${api.url}/apis/nope.example/v1/things`);
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ kind: 'Status', code: 404, reason: 'NotFound' });
    const bad = await fetch(`${api.url}/api/v1/pods?labelSelector=${encodeURIComponent('a in b')}`);
    expect(bad.status).toBe(400);
  });

  it('reviews tokens', async () => {
    const review = async (token: string) =>
      (await (
        await fetch(`${api.url}/apis/authentication.k8s.io/v1/tokenreviews`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }),
        })
      ).json()) as { status: { authenticated: boolean; user: { username?: string } } };
    expect((await review('good-token')).status).toMatchObject({ authenticated: true, user: { username: 'system:serviceaccount:kp:agent' } });
    expect((await review('bad')).status.authenticated).toBe(false);
  });

  it('requires a known bearer token when asked to, and ends watches after timeoutSeconds', async () => {
    const strict = await FakeApiServer.start({ requireAuth: true, tokens: { t1: { username: 'u' } } });
    try {
      await expect(kubeconfigFor(strict, { token: 't1' }).makeApiClient(CoreV1Api).listNode()).resolves.toMatchObject({ items: [] });
      await expect(kubeconfigFor(strict, { token: 'nope' }).makeApiClient(CoreV1Api).listNode()).rejects.toMatchObject({ code: 401 });
    } finally {
      await strict.close();
    }
    const t0 = Date.now();
    const { events } = await rawWatch('/api/v1/nodes?watch=true&timeoutSeconds=0.2', 5000);
    expect(events).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(4000); // ended by the server, not by the client's 5 s
  });

  it('loads every kind of fixture file', () => {
    expect(loadFixtureObjects('k8s-api-objects/datadog/pods_crashed.json').every((o) => o.kind === 'Pod' && o.apiVersion === 'v1')).toBe(true);
    expect(loadFixtureObjects('k8s-api-objects/k9s/ev.json')[0].kind).toBe('Event');
    api.addAll(loadFixtureObjects('k8s-api-objects/k9s/ev.json'));
    expect(api.list('v1', 'Event')).toHaveLength(1);
  });
});
