/**
 * The cluster-state database on real SQLite (`:memory:` and a file): history bounds and
 * retention, event deduplication, snapshots that never hold secrets, diffs by kind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeDb } from '../../collector/kube/kube-db.js';
import { diffSnapshots, snapshotOf } from '../../collector/kube/history.js';
import { normaliseEvent } from '../../collector/kube/events.js';
import { trimObject, trimPod } from '../../collector/kube/kube-client.js';
import { loadFixtureObjects } from '../fakes/fake-apiserver.js';

const dbs: KubeDb[] = [];
const open = (o: Partial<ConstructorParameters<typeof KubeDb>[0]> = {}) => {
  const db = new KubeDb({ path: ':memory:', ...o });
  dbs.push(db);
  return db;
};
afterEach(() => {
  for (const d of dbs.splice(0)) d.close();
});

const node = (taints: unknown[], labels: Record<string, string> = {}) => ({
  metadata: { name: 'n1', uid: 'u', resourceVersion: '1', labels },
  spec: { taints },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});
const ref = (rv: string) => ({ kind: 'Node', namespace: '', name: 'n1', uid: 'u', resourceVersion: rv, generation: null });

describe('KubeDb', () => {
  it('keeps at most N entries per object, newest first, and prunes by age', () => {
    const db = open({ historyPerObject: 3, historyRetentionMs: 10_000 });
    for (let i = 0; i < 6; i++) {
      db.recordObject('c', ref(String(i)), snapshotOf('Node', node([], { v: String(i) })), {}, 1000 * i, diffSnapshots);
    }
    const h = db.history('c', 'Node', '', 'n1');
    expect(h.map((e) => e.resourceVersion)).toEqual(['5', '4', '3']);
    expect(h[0].diff).toEqual([{ op: 'replace', path: '/labels/v', old: '4', new: '5' }]);
    expect(db.prune(14_500).history).toBe(2); // entries at 3000 and 4000 are older than 10 s
    expect(db.history('c', 'Node', '', 'n1').map((e) => e.resourceVersion)).toEqual(['5']);
    // Another cluster's object of the same name is separate.
    expect(db.history('other', 'Node', '', 'n1')).toEqual([]);
  });

  it('records taint changes of nodes and nothing for a status change', () => {
    const db = open();
    db.recordObject('c', ref('1'), snapshotOf('Node', node([])), {}, 1, diffSnapshots);
    expect(db.recordObject('c', ref('2'), snapshotOf('Node', { ...node([]), status: { conditions: [] } }), {}, 2, diffSnapshots)).toBeUndefined();
    const e = db.recordObject('c', ref('3'), snapshotOf('Node', node([{ key: 'k', effect: 'NoSchedule' }])), {}, 3, diffSnapshots);
    expect(e?.diff).toEqual([{ op: 'replace', path: '/spec/taints', old: [], new: [{ key: 'k', effect: 'NoSchedule' }] }]);
    expect(db.recordDeleted('c', 'Node', '', 'n1', '4', 4)?.change).toBe('deleted');
    expect(db.recordDeleted('c', 'Node', '', 'n1', '4', 5)).toBeUndefined();
    // Re-created under the same name: a fresh `added` entry.
    expect(db.recordObject('c', ref('6'), snapshotOf('Node', node([])), {}, 6, diffSnapshots)?.change).toBe('added');
  });

  it('deduplicates events by UID and reports the new occurrences; survives reopening', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kp-kubedb-'));
    try {
      const path = join(dir, 'kube.db');
      const [fixture] = loadFixtureObjects('k8s-api-objects/k9s/ev.json');
      const ev = normaliseEvent(fixture, 'c', 0)!;
      expect(ev).toMatchObject({ kind: 'Pod', name: 'hello-1567197780-mn4mv', objectNamespace: 'default', reason: 'Pulled', source: 'kubelet', count: 1, firstTime: Date.parse('2019-08-30T20:43:05Z') });
      let db = new KubeDb({ path });
      expect(db.upsertEvent(ev)).toEqual({ isNew: true, delta: 1 });
      expect(db.upsertEvent({ ...ev, count: 4, lastTime: ev.lastTime + 60_000 })).toEqual({ isNew: false, delta: 3 });
      db.close();
      db = open({ path });
      expect(db.upsertEvent({ ...ev, count: 4, lastTime: ev.lastTime + 60_000 })).toEqual({ isNew: false, delta: 0 });
      const q = db.queryEvents({ cluster: 'c' });
      expect(q.total).toBe(1);
      expect(q.events[0]).toMatchObject({ count: 4, lastTime: ev.lastTime + 60_000, firstTime: ev.firstTime });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('what is kept of objects', () => {
  it('never keeps env values, secret data or last-applied-configuration', () => {
    const secret = trimObject({ kind: 'Secret', metadata: { name: 's', managedFields: [{}], annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } }, data: { password: 'aHVudGVyMg==' } });
    expect(JSON.stringify(secret)).not.toMatch(/aHVudGVyMg|last-applied|managedFields/);
    const cron = {
      metadata: { name: 'c' },
      spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'x', image: 'i', env: [{ name: 'TOKEN', value: 's3cret' }, { name: 'FROM', valueFrom: { secretKeyRef: { name: 'k', key: 'v' } } }] }] } } } } },
    };
    const snap = snapshotOf('CronJob', trimObject(structuredClone(cron)));
    expect(snap.spec).toMatchObject({ schedule: '* * * * *', containers: { x: { image: 'i', env: ['TOKEN', 'FROM'] } } });
    expect(JSON.stringify(snap)).not.toContain('s3cret');
    expect(JSON.stringify(snapshotOf('CronJob', cron))).not.toContain('s3cret');
  });

  it('trims pods to what series, views and topology read', () => {
    const [pod] = loadFixtureObjects('k8s-api-objects/k9s/po.json');
    const t = trimPod(structuredClone(pod)) as { spec: { containers: Array<Record<string, unknown>> } };
    expect(t.spec.containers[0].image).toBeDefined();
    expect(t.spec.containers[0].volumeMounts).toBeUndefined();
    expect(JSON.stringify(t).length).toBeLessThan(JSON.stringify(pod).length);
  });
});
