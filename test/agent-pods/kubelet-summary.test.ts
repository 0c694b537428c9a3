/**
 * Every container and pod of every real kubelet summary fixture yields its series with
 * the fixture's exact values (ns → s, µs → s, RFC 3339 → epoch s).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { emitSummary } from '../../agent/sources/kubelet/index.js';
import { PodStore } from '../../agent/discovery/pod-index.js';
import { fixture } from '../helpers/paths.js';
import { RecordingSink, summaryFixtures } from './helpers.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- raw fixture JSON is walked untyped on purpose: the test must not share the code's types */

describe.each(summaryFixtures())('summary fixture %s', (_label, file) => {
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  const sink = new RecordingSink();
  const result = emitSummary(raw, sink, { pressure: true });

  it('names every pod and container from podRef', () => {
    const pods = raw.pods.filter((p: any) => p.podRef?.name && p.podRef?.namespace);
    expect(result.pods).toBe(pods.length);
    expect(result.containers).toBe(pods.reduce((n: number, p: any) => n + (p.containers?.length ?? 0), 0));
    expect(result.containers).toBeGreaterThan(0);
  });

  it('gives each container its exact CPU, memory, fs and start time', () => {
    let checked = 0;
    for (const p of raw.pods) {
      for (const c of p.containers ?? []) {
        const l = { namespace: p.podRef.namespace, pod: p.podRef.name, container: c.name };
        if (c.cpu?.usageCoreNanoSeconds !== undefined) {
          expect(sink.get('container_cpu_usage_seconds_total', { ...l, cpu: 'total' })).toBe(c.cpu.usageCoreNanoSeconds / 1e9);
          checked++;
        }
        if (c.memory?.workingSetBytes !== undefined) expect(sink.get('container_memory_working_set_bytes', l)).toBe(c.memory.workingSetBytes);
        if (c.memory?.rssBytes !== undefined) expect(sink.get('container_memory_rss', l)).toBe(c.memory.rssBytes);
        if (c.memory?.usageBytes !== undefined) expect(sink.get('container_memory_usage_bytes', l)).toBe(c.memory.usageBytes);
        if (c.memory?.pageFaults !== undefined) {
          expect(sink.get('container_memory_failures_total', { ...l, failure_type: 'pgfault', scope: 'container' })).toBe(c.memory.pageFaults);
        }
        if (c.rootfs?.usedBytes !== undefined) expect(sink.get('container_fs_usage_bytes', l)).toBe(c.rootfs.usedBytes);
        if (c.logs?.usedBytes !== undefined) {
          expect(sink.get('kubelet_container_log_filesystem_used_bytes', { ...l, metrics_path: '/metrics' })).toBe(c.logs.usedBytes);
        }
        if (c.startTime) expect(sink.get('container_start_time_seconds', l)).toBe(new Date(c.startTime).getTime() / 1000);
        if (c.cpu?.psi?.some) expect(sink.get('container_pressure_cpu_waiting_seconds_total', l)).toBe(c.cpu.psi.some.total / 1e6);
        if (c.memory?.psi?.full) expect(sink.get('container_pressure_memory_stalled_seconds_total', l)).toBe(c.memory.psi.full.total / 1e6);
        if (c.io?.psi?.some) expect(sink.get('container_pressure_io_waiting_seconds_total', l)).toBe(c.io.psi.some.total / 1e6);
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('gives each pod its pod-level series (container="") and per-interface network', () => {
    for (const p of raw.pods) {
      const l = { namespace: p.podRef.namespace, pod: p.podRef.name };
      if (p.cpu?.usageCoreNanoSeconds !== undefined) expect(sink.get('container_cpu_usage_seconds_total', { ...l, cpu: 'total' })).toBe(p.cpu.usageCoreNanoSeconds / 1e9);
      if (p.memory?.workingSetBytes !== undefined) expect(sink.get('container_memory_working_set_bytes', l)).toBe(p.memory.workingSetBytes);
      if (p['ephemeral-storage']?.usedBytes !== undefined) expect(sink.get('container_fs_usage_bytes', l)).toBe(p['ephemeral-storage'].usedBytes);
      const ifaces = p.network?.interfaces ?? [];
      for (const i of ifaces) {
        expect(sink.get('container_network_receive_bytes_total', { ...l, interface: i.name })).toBe(i.rxBytes);
        expect(sink.get('container_network_transmit_bytes_total', { ...l, interface: i.name })).toBe(i.txBytes);
        expect(sink.get('container_network_receive_errors_total', { ...l, interface: i.name })).toBe(i.rxErrors);
        expect(sink.get('container_network_transmit_errors_total', { ...l, interface: i.name })).toBe(i.txErrors);
      }
    }
  });

  it('gives the node root cgroup (id="/")', () => {
    if (raw.node?.cpu?.usageCoreNanoSeconds !== undefined) {
      expect(sink.get('container_cpu_usage_seconds_total', { id: '/', cpu: 'total' })).toBe(raw.node.cpu.usageCoreNanoSeconds / 1e9);
    }
    if (raw.node?.memory?.workingSetBytes !== undefined) expect(sink.get('container_memory_working_set_bytes', { id: '/' })).toBe(raw.node.memory.workingSetBytes);
  });

  it('declares a family for every name it emits', () => {
    for (const s of sink.samples) expect(sink.families.has(s.name), s.name).toBe(true);
  });
});

describe('summary spot values (read by hand from the fixtures)', () => {
  const raw = JSON.parse(readFileSync(fixture('kubelet-summary/nri-kubernetes/k8s-1.35/stats-summary.json'), 'utf8'));
  const sink = new RecordingSink();
  emitSummary(raw, sink, { pressure: true });
  const l = { namespace: 'kube-system', pod: 'kube-proxy-8k9zt' };

  it('matches the literal values of kube-proxy on 1.35', () => {
    expect(sink.get('container_cpu_usage_seconds_total', { ...l, container: 'kube-proxy', cpu: 'total' })).toBe(0.2508);
    expect(sink.get('container_memory_working_set_bytes', { ...l, container: 'kube-proxy' })).toBe(18755584);
    expect(sink.get('container_pressure_cpu_stalled_seconds_total', { ...l, container: 'kube-proxy' })).toBe(0.001909);
    expect(sink.get('container_start_time_seconds', { ...l, container: 'kube-proxy' })).toBe(Date.UTC(2026, 5, 26, 10, 12, 19) / 1000);
    expect(sink.get('container_network_receive_bytes_total', { ...l, interface: 'eth0' })).toBe(772918239);
  });

  it('agrees with the kubelet /metrics/cadvisor text captured from the same node', () => {
    // The same capture's cAdvisor output has this pod's cgroup row: cpu 0.255321 s, working set 1.8997248e+07.
    const text = readFileSync(fixture('k8s-prometheus-text/nri-kubernetes/k8s-1.35/kubelet-metrics-cadvisor.txt'), 'utf8');
    const row = (name: string) =>
      Number(text.split('\n').find((line) => line.startsWith(`${name}{container="",`) && line.includes('pod="kube-proxy-8k9zt"') && line.includes('image=""'))?.split(' ')[1]);
    expect(sink.get('container_cpu_usage_seconds_total', { ...l, cpu: 'total' })).toBe(row('container_cpu_usage_seconds_total'));
    expect(sink.get('container_memory_working_set_bytes', l)).toBe(row('container_memory_working_set_bytes'));
  });

  it('leaves pressure to the cgroup source unless asked', () => {
    const s2 = new RecordingSink();
    emitSummary(raw, s2);
    expect(s2.named('container_pressure_cpu_waiting_seconds_total')).toHaveLength(0);
  });

  it('names pods and images from the pod index, and reports pods the index does not know', () => {
    const store = new PodStore();
    store.replaceAll([
      {
        metadata: { uid: '90565722-42c8-4f10-a59b-c8fc6571e86d', namespace: 'kube-system', name: 'kube-proxy-8k9zt' },
        spec: { containers: [{ name: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.35.0' }] },
      },
    ]);
    const s3 = new RecordingSink();
    const r = emitSummary(raw, s3, { podIndex: store });
    expect(s3.get('container_memory_working_set_bytes', { ...l, container: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.35.0' })).toBe(18755584);
    expect(r.unknownPods.length).toBe(raw.pods.length - 1);
  });

  it('emits kubelet_volume_stats_* with metrics_path="/metrics" for PVC volumes only', () => {
    const pod = structuredClone(raw.pods[0]);
    pod.volume = [
      { name: 'data', pvcRef: { name: 'data-db-0', namespace: 'db' }, capacityBytes: 1000, availableBytes: 400, usedBytes: 600, inodes: 50, inodesFree: 20, inodesUsed: 30 },
      { name: 'tmp', capacityBytes: 5 },
    ];
    const s4 = new RecordingSink();
    emitSummary({ pods: [pod] }, s4);
    const vl = { namespace: 'db', persistentvolumeclaim: 'data-db-0', metrics_path: '/metrics' };
    expect(s4.get('kubelet_volume_stats_capacity_bytes', vl)).toBe(1000);
    expect(s4.get('kubelet_volume_stats_available_bytes', vl)).toBe(400);
    expect(s4.get('kubelet_volume_stats_used_bytes', vl)).toBe(600);
    expect(s4.get('kubelet_volume_stats_inodes', vl)).toBe(50);
    expect(s4.get('kubelet_volume_stats_inodes_free', vl)).toBe(20);
    expect(s4.get('kubelet_volume_stats_inodes_used', vl)).toBe(30);
    expect(s4.named('kubelet_volume_stats_capacity_bytes')).toHaveLength(1);
  });

  it.each([
    ['an array', [1, 2]],
    ['null', null],
    ['pods not an array', { pods: { a: 1 } }],
  ])('refuses a summary that is %s', (_n, bad) => {
    expect(() => emitSummary(bad as never, new RecordingSink())).toThrow(/summary/);
  });
});
