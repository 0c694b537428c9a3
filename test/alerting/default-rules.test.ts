/**
 * Every rule of the default pack fires on the condition it names, and stays quiet on
 * healthy data, evaluated by the real PromQL engine over MemoryStorage on a fake clock.
 */
import { describe, expect, it } from 'vitest';
import { labelsFromObject, labelsToObject } from '../../shared/index.js';
import { Engine, engineQueryFunc, parseExpr } from '../../collector/promql/index.js';
import { MemoryStorage } from '../../collector/storage/index.js';
import { DEFAULT_RULE_NAMES, defaultRuleGroups } from '../../collector/rules/default-rules/index.js';
import { RuleManager } from '../../collector/rules/manager.js';
import { RuleLoadError } from '../../collector/rules/rule-file.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);
type Fn = (m: number) => number | undefined;
interface Series {
  labels: Record<string, string>;
  fire: Fn;
  /** Value on healthy data; defaults to `fire`. */
  ok?: Fn;
}
interface Scenario {
  rule: string;
  minutes: number;
  evalEvery?: number;
  series: Series[];
  want: Record<string, string>;
}

const KSM = { job: 'kube-state-metrics', cluster: 'c1' };
const POD = { namespace: 'shop', pod: 'api-0' };
const CTR = { ...POD, container: 'app' };
const CAD = { job: 'kubelet', metrics_path: '/metrics/cadvisor', cluster: 'c1', instance: 'n1', ...CTR };
const NODE = { job: 'node-exporter', cluster: 'c1', instance: 'n1:9100' };
const SELF = { cluster: 'c1', instance: 'collector:9190' };
const c = (v: number): Fn => () => v;

const scenarios: Scenario[] = [
  { rule: 'KubePodCrashLooping', minutes: 25, series: [{ labels: { __name__: 'kube_pod_container_status_waiting_reason', ...KSM, ...CTR, reason: 'CrashLoopBackOff' }, fire: c(1), ok: c(0) }], want: { ...CTR, severity: 'warning' } },
  {
    rule: 'KubeContainerOOMKilled',
    minutes: 14,
    series: [
      { labels: { __name__: 'kube_pod_container_status_restarts_total', ...KSM, ...CTR }, fire: (m) => (m < 10 ? 0 : 1) },
      { labels: { __name__: 'kube_pod_container_status_last_terminated_reason', ...KSM, ...CTR, reason: 'OOMKilled' }, fire: c(1), ok: () => undefined },
    ],
    want: { ...CTR, cluster: 'c1' },
  },
  { rule: 'KubePodRestartingOften', minutes: 70, evalEvery: 5, series: [{ labels: { __name__: 'kube_pod_container_status_restarts_total', ...KSM, ...CTR }, fire: (m) => Math.floor(m / 5), ok: c(2) }], want: CTR },
  {
    rule: 'KubePodNotReady',
    minutes: 20,
    series: [
      { labels: { __name__: 'kube_pod_status_phase', ...KSM, ...POD, phase: 'Running' }, fire: c(1) },
      { labels: { __name__: 'kube_pod_status_ready', ...KSM, ...POD, condition: 'true' }, fire: c(0), ok: c(1) },
    ],
    want: { ...POD, cluster: 'c1' },
  },
  { rule: 'KubePodPending', minutes: 20, series: [{ labels: { __name__: 'kube_pod_status_phase', ...KSM, ...POD, phase: 'Pending' }, fire: c(1), ok: c(0) }], want: POD },
  { rule: 'KubePodUnschedulable', minutes: 10, series: [{ labels: { __name__: 'kube_pod_status_unschedulable', ...KSM, ...POD }, fire: c(1), ok: () => undefined }], want: POD },
  {
    rule: 'CPUThrottlingHigh',
    minutes: 25,
    series: [
      { labels: { __name__: 'container_cpu_cfs_periods_total', ...CAD }, fire: (m) => m * 600 },
      { labels: { __name__: 'container_cpu_cfs_throttled_periods_total', ...CAD }, fire: (m) => m * 300, ok: (m) => m * 30 },
    ],
    want: { ...CTR, severity: 'info' },
  },
  {
    rule: 'KubeContainerMemoryNearLimit',
    minutes: 20,
    series: [
      { labels: { __name__: 'container_memory_working_set_bytes', ...CAD }, fire: c(950e6), ok: c(500e6) },
      { labels: { __name__: 'kube_pod_container_resource_limits', ...KSM, ...CTR, resource: 'memory', unit: 'byte' }, fire: c(1e9) },
    ],
    want: CTR,
  },
  {
    rule: 'KubeNodeNotReady',
    minutes: 20,
    series: [
      { labels: { __name__: 'kube_node_status_condition', ...KSM, node: 'n1', condition: 'Ready', status: 'true' }, fire: c(0), ok: c(1) },
      { labels: { __name__: 'kube_node_spec_unschedulable', ...KSM, node: 'n1' }, fire: c(0) },
    ],
    want: { node: 'n1' },
  },
  {
    rule: 'KubeNodePressure',
    minutes: 15,
    series: [
      { labels: { __name__: 'kube_node_status_condition', ...KSM, node: 'n1', condition: 'DiskPressure', status: 'true' }, fire: c(1), ok: c(0) },
      { labels: { __name__: 'kube_node_spec_unschedulable', ...KSM, node: 'n1' }, fire: c(0) },
    ],
    want: { node: 'n1', condition: 'DiskPressure' },
  },
  {
    rule: 'NodeFilesystemSpaceFillingUp',
    minutes: 200,
    evalEvery: 5,
    series: [
      { labels: { __name__: 'node_filesystem_size_bytes', ...NODE, device: '/dev/sda1', mountpoint: '/', fstype: 'ext4' }, fire: c(100e9) },
      { labels: { __name__: 'node_filesystem_avail_bytes', ...NODE, device: '/dev/sda1', mountpoint: '/', fstype: 'ext4' }, fire: (m) => 30e9 - m * 0.1e9, ok: c(10e9) },
      { labels: { __name__: 'node_filesystem_readonly', ...NODE, device: '/dev/sda1', mountpoint: '/', fstype: 'ext4' }, fire: c(0) },
    ],
    want: { mountpoint: '/', severity: 'critical' },
  },
  {
    rule: 'KubePersistentVolumeFillingUp',
    minutes: 80,
    evalEvery: 5,
    series: [
      { labels: { __name__: 'kubelet_volume_stats_capacity_bytes', job: 'kubelet', cluster: 'c1', namespace: 'shop', persistentvolumeclaim: 'data' }, fire: c(10e9) },
      { labels: { __name__: 'kubelet_volume_stats_available_bytes', job: 'kubelet', cluster: 'c1', namespace: 'shop', persistentvolumeclaim: 'data' }, fire: (m) => 1.4e9 - m * 0.008e9, ok: c(1.4e9) },
      { labels: { __name__: 'kubelet_volume_stats_used_bytes', job: 'kubelet', cluster: 'c1', namespace: 'shop', persistentvolumeclaim: 'data' }, fire: (m) => 8.6e9 + m * 0.008e9, ok: c(8.6e9) },
    ],
    want: { persistentvolumeclaim: 'data' },
  },
  ...(['receive', 'transmit'] as const).map(
    (dir): Scenario => ({
      rule: dir === 'receive' ? 'NodeNetworkReceiveErrs' : 'NodeNetworkTransmitErrs',
      minutes: 70,
      evalEvery: 5,
      series: [
        { labels: { __name__: `node_network_${dir}_packets_total`, ...NODE, device: 'eth0' }, fire: (m) => m * 6000 },
        { labels: { __name__: `node_network_${dir}_errs_total`, ...NODE, device: 'eth0' }, fire: (m) => m * 120, ok: c(0) },
      ],
      want: { device: 'eth0' },
    }),
  ),
  {
    rule: 'KubepulseAgentAbsent',
    minutes: 10,
    series: [
      { labels: { __name__: 'kube_node_info', ...KSM, node: 'n1' }, fire: c(1) },
      { labels: { __name__: 'kube_node_info', ...KSM, node: 'n2' }, fire: c(1) },
      { labels: { __name__: 'node_cpu_seconds_total', ...NODE, node: 'n1', cpu: '0', mode: 'idle' }, fire: (m) => m * 60 },
      { labels: { __name__: 'node_cpu_seconds_total', ...NODE, instance: 'n2:9100', node: 'n2', cpu: '0', mode: 'idle' }, fire: () => undefined, ok: (m) => m * 60 },
    ],
    want: { node: 'n2', cluster: 'c1' },
  },
  { rule: 'KubepulseRuleEvaluationFailures', minutes: 20, series: [{ labels: { __name__: 'kubepulse_rules_evaluation_failures_total', ...SELF, rule_group: 'g' }, fire: (m) => m, ok: c(3) }], want: { rule_group: 'g' } },
  { rule: 'KubepulseRuleReloadFailed', minutes: 15, series: [{ labels: { __name__: 'kubepulse_rules_last_reload_successful', ...SELF }, fire: c(0), ok: c(1) }], want: SELF },
  {
    rule: 'KubepulseNotificationsFailing',
    minutes: 25,
    series: [
      { labels: { __name__: 'kubepulse_notifier_notifications_failed_total', ...SELF, receiver: 'slack' }, fire: (m) => m },
      { labels: { __name__: 'kubepulse_notifier_notifications_sent_total', ...SELF, receiver: 'slack' }, fire: c(5), ok: (m) => m * 10 },
    ],
    want: { receiver: 'slack', severity: 'critical' },
  },
  { rule: 'KubepulseNotificationBacklog', minutes: 20, series: [{ labels: { __name__: 'kubepulse_notifier_queue_length', ...SELF }, fire: c(500), ok: c(5) }], want: SELF },
];

async function run(s: Scenario, healthy: boolean) {
  const storage = new MemoryStorage();
  for (const ser of s.series) {
    const ls = labelsFromObject(ser.labels);
    const fn = healthy ? (ser.ok ?? ser.fire) : ser.fire;
    for (let t = T0; t <= T0 + s.minutes * MIN; t += 30_000) {
      const v = fn((t - T0) / MIN);
      if (v !== undefined) storage.add(ls, t, v);
    }
  }
  const only = Object.fromEntries(DEFAULT_RULE_NAMES.map((n) => [n, n === s.rule]));
  const clock = { now: T0 };
  const mgr = new RuleManager({ query: engineQueryFunc(new Engine(), storage), appendable: storage, now: () => clock.now });
  const every = (s.evalEvery ?? 1) * MIN;
  mgr.applyConfig({ evaluationIntervalMs: every, ruleFiles: [], extraGroups: defaultRuleGroups({ rules: only }, (e) => void parseExpr(e)) });
  for (let t = T0 + every; t <= T0 + s.minutes * MIN; t += every) await mgr.evaluateDue(t);
  const rules = mgr.alertingRules();
  expect(rules.map((r) => r.name)).toEqual([s.rule]);
  expect(rules[0].health).toBe('ok');
  return rules[0].alerts().filter((a) => a.state === 'firing');
}

describe('default rule pack', () => {
  it('has a scenario for every rule', () => {
    expect(scenarios.map((s) => s.rule).sort()).toEqual([...DEFAULT_RULE_NAMES].sort());
  });

  it.each(scenarios)('$rule fires on its condition and not on healthy data', async (s) => {
    const firing = await run(s, false);
    expect(firing).toHaveLength(1);
    expect(labelsToObject(firing[0].labels)).toMatchObject({ alertname: s.rule, ...s.want });
    expect(await run(s, true)).toHaveLength(0);
  });

  it('switches rules off one by one or all together, and refuses unknown names', () => {
    const all = defaultRuleGroups().flatMap((g) => g.rules.map((r) => r.name));
    expect(all).toEqual(DEFAULT_RULE_NAMES);
    const without = defaultRuleGroups({ rules: { KubePodCrashLooping: false } }).flatMap((g) => g.rules.map((r) => r.name));
    expect(without).toEqual(DEFAULT_RULE_NAMES.filter((n) => n !== 'KubePodCrashLooping'));
    expect(defaultRuleGroups({ enabled: false })).toEqual([]);
    expect(() => defaultRuleGroups({ rules: { KubePodCrashLoopin: false } })).toThrow(RuleLoadError);
  });
});
