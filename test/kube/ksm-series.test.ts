/**
 * The kube-state-metrics-compatible series against kube-state-metrics itself: for the
 * pods and nodes of the nri-kubernetes captures, every series of the families we
 * generate equals the kube-state-metrics output of the same capture (1.35: KSM 2.19,
 * exact; 1.31: KSM 2.13, with its two documented differences normalised). Plus the
 * failure reasons of crash-looping, OOM-killed and unschedulable pods.
 */
import { describe, expect, it } from 'vitest';
import { parseText, sampleKey } from './ksm-text.js';
import { loadFixtureObjects, loadNriCluster } from '../fakes/fake-apiserver.js';
import { fixture } from '../helpers/paths.js';
import {
  nodeSamples,
  podSamples,
  parseQuantity,
  deploymentSamples,
  type KsmOptions,
  type KsmSample,
} from '../../collector/kube/ksm/index.js';

// The capture's kube-state-metrics ran with this allow-list (label_environment/label_team appear).
const OPTS: KsmOptions = { labelsAllowlist: { pods: ['environment', 'team'] }, annotationsAllowlist: { pods: ['description', 'owner'] } };

function compare(ver: string, normalise: (k: string) => string | undefined) {
  const text = parseText(fixture(`k8s-prometheus-text/nri-kubernetes/k8s-${ver}/kube-state-metrics.txt`));
  const { pods, nodes } = loadNriCluster(ver);
  const ours = new Map<string, number>();
  const families = new Set<string>();
  const put = (s: KsmSample) => {
    const k = normalise(sampleKey(s.name, s.labels));
    if (k === undefined) return;
    expect(ours.has(k), `duplicate series ${k}`).toBe(false);
    ours.set(k, s.value);
    families.add(s.name);
  };
  for (const p of pods) podSamples(p, OPTS).forEach(put);
  for (const n of nodes) nodeSamples(n, OPTS).forEach(put);
  const theirs = new Map<string, number>();
  for (const s of text) {
    if (!families.has(s.name)) continue;
    const k = normalise(sampleKey(s.name, s.labels));
    if (k !== undefined) theirs.set(k, s.value);
  }
  return { ours, theirs, families };
}

describe('kube-state-metrics equality on the nri-kubernetes captures', () => {
  it('1.35 (kube-state-metrics 2.19): every pod and node series is identical', () => {
    const { ours, theirs, families } = compare('1.35', (k) => k);
    expect(families.size).toBeGreaterThan(35);
    expect([...theirs.keys()].filter((k) => !ours.has(k))).toEqual([]);
    expect([...ours.keys()].filter((k) => !theirs.has(k))).toEqual([]);
    for (const [k, v] of theirs) expect(ours.get(k), k).toBe(v);
    expect(theirs.size).toBeGreaterThan(1000);
  });

  it('1.31 (kube-state-metrics 2.13): identical apart from the 2.14+ additions', () => {
    const newer = /reason="(PreemptionByScheduler|SchedulingGated|TerminationByKubelet)"/;
    const { ours, theirs } = compare('1.31', (k) => (newer.test(k) ? undefined : k.replace(/,?kubeproxy_version="deprecated"/, '')));
    expect([...theirs.keys()].filter((k) => !ours.has(k))).toEqual([]);
    expect([...ours.keys()].filter((k) => !theirs.has(k))).toEqual([]);
    for (const [k, v] of theirs) expect(ours.get(k), k).toBe(v);
  });
});

const find = (ss: KsmSample[], name: string, labels: Record<string, string>) =>
  ss.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

describe('failure reasons', () => {
  it('OOMKilled and CrashLoopBackOff in the GKE capture', () => {
    const pods = loadFixtureObjects('k8s-api-objects/datadog/pods_crashed.json');
    const fluentd = pods.find((p) => p.metadata?.name === 'fluentd-gcp-v2.0.10-9q9t4' && JSON.stringify(p).includes('OOMKilled'))!;
    const ss = podSamples(fluentd);
    expect(find(ss, 'kube_pod_container_status_last_terminated_reason', { container: 'fluentd-gcp' }).map((s) => [s.labels.reason, s.value])).toEqual([['OOMKilled', 1]]);
    expect(find(ss, 'kube_pod_container_status_restarts_total', { container: 'fluentd-gcp' })[0].value).toBe(1);
    expect(find(ss, 'kube_pod_container_status_waiting_reason', { container: 'prometheus-to-sd-exporter' }).map((s) => [s.labels.reason, s.value])).toEqual([['CrashLoopBackOff', 1]]);
    expect(find(ss, 'kube_pod_container_status_waiting', { container: 'prometheus-to-sd-exporter' })[0].value).toBe(1);
    expect(find(ss, 'kube_pod_container_status_waiting_reason', { container: 'fluentd-gcp' })).toEqual([]);
    const dd = podSamples(pods.find((p) => p.metadata?.name === 'dd-agent-q6hpw')!);
    expect(find(dd, 'kube_pod_container_status_terminated_reason', {}).map((s) => s.labels.reason)).toEqual(['TransientReason']);
  });

  it.each(['1.19', '1.22', '1.25', '1.32', '1.34'])('CrashLoopBackOff in the %s capture', (ver) => {
    const { pods } = loadNriCluster(ver);
    const crashing = pods.flatMap((p) => find(podSamples(p), 'kube_pod_container_status_waiting_reason', { reason: 'CrashLoopBackOff' }));
    expect(crashing.length).toBeGreaterThan(0);
    for (const s of crashing) expect(s.value).toBe(1);
  });

  it.each(['1.16', '1.22', '1.28', '1.31', '1.35'])('Unschedulable pending pod in the %s capture', (ver) => {
    const { pods } = loadNriCluster(ver);
    const uns = pods.filter((p) => find(podSamples(p), 'kube_pod_status_unschedulable', {}).length > 0);
    expect(uns.length).toBe(1);
    const ss = podSamples(uns[0]);
    expect(find(ss, 'kube_pod_status_phase', { phase: 'Pending' })[0].value).toBe(1);
    expect(find(ss, 'kube_pod_status_scheduled', { condition: 'false' })[0].value).toBe(1);
    expect(find(ss, 'kube_pod_info', {})[0].labels.node).toBe('');
  });
});

describe('quantities and workloads', () => {
  it.each([
    ['100m', 0.1],
    ['2', 2],
    ['128Mi', 128 * 2 ** 20],
    ['1.5G', 1.5e9],
    ['2e3', 2000],
    ['500u', 0.0005],
    ['bogus', NaN],
  ])('parses %s', (q, want) => {
    expect(parseQuantity(q)).toBe(want);
  });

  it('deployment series follow replicas, rollout strategy and conditions', () => {
    const d = {
      metadata: { name: 'web', namespace: 'default', generation: 3, creationTimestamp: '2025-01-01T00:00:00Z' },
      spec: { replicas: 10, strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } } },
      status: { replicas: 10, availableReplicas: 8, unavailableReplicas: 2, updatedReplicas: 10, observedGeneration: 2, conditions: [{ type: 'Available', status: 'False' }] },
    };
    const ss = deploymentSamples(d);
    const v = (name: string, l: Record<string, string> = {}) => find(ss, name, l)[0]?.value;
    expect(v('kube_deployment_spec_replicas')).toBe(10);
    expect(v('kube_deployment_status_replicas_unavailable')).toBe(2);
    expect(v('kube_deployment_metadata_generation')).toBe(3);
    expect(v('kube_deployment_status_observed_generation')).toBe(2);
    expect(v('kube_deployment_spec_strategy_rollingupdate_max_surge')).toBe(3);
    expect(v('kube_deployment_spec_strategy_rollingupdate_max_unavailable')).toBe(2);
    expect(v('kube_deployment_status_condition', { condition: 'Available', status: 'false' })).toBe(1);
    expect(v('kube_deployment_created')).toBe(1735689600);
  });
});
