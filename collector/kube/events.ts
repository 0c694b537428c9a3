/**
 * Normalises Kubernetes Events of both APIs (`events.k8s.io/v1` and `core/v1`) into
 * one record: the involved object, reason, type, message, first/last time and count
 * (`series.count` wins over the deprecated `count`).
 */
import type { Obj } from './ksm/index.js';
import type { KubeEventRecord } from './kube-db.js';

function ms(t: unknown): number | undefined {
  if (t === undefined || t === null || t === '') return undefined;
  const v = t instanceof Date ? t.getTime() : Date.parse(String(t));
  return Number.isFinite(v) ? v : undefined;
}

/** The record of one Event object; undefined when it has no UID. */
export function normaliseEvent(e: Obj, cluster: string, now: number): KubeEventRecord | undefined {
  const uid = e.metadata?.uid;
  if (!uid) return undefined;
  // events.k8s.io/v1 names the object `regarding` and the text `note`.
  const obj = e.regarding ?? e.involvedObject ?? {};
  const first = ms(e.deprecatedFirstTimestamp) ?? ms(e.firstTimestamp) ?? ms(e.eventTime) ?? ms(e.metadata?.creationTimestamp) ?? now;
  const last = ms(e.series?.lastObservedTime) ?? ms(e.deprecatedLastTimestamp) ?? ms(e.lastTimestamp) ?? ms(e.eventTime) ?? first;
  const count = e.series?.count ?? e.deprecatedCount ?? e.count ?? 1;
  return {
    uid,
    cluster,
    namespace: e.metadata?.namespace ?? '',
    kind: obj.kind ?? '',
    name: obj.name ?? '',
    objectNamespace: obj.namespace ?? '',
    objectUid: obj.uid ?? '',
    reason: e.reason ?? '',
    type: e.type ?? '',
    message: e.note ?? e.message ?? '',
    source: e.reportingController ?? e.source?.component ?? e.deprecatedSource?.component ?? '',
    firstTime: first,
    lastTime: Math.max(first, last),
    count: typeof count === 'number' && count > 0 ? count : 1,
  };
}
