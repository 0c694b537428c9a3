/**
 * The default rule pack, as a Prometheus rule file. Adapted from the kubernetes-mixin
 * (monitoring-mixins/website `assets/kubernetes/alerts.yaml`, commit f901a79) and the
 * node-exporter mixin (`assets/node-exporter/alerts.yaml`), Apache-2.0: selectors use
 * kubepulse's job labels (`node-exporter`, `kubelet` + `/metrics/cadvisor`,
 * `kube-state-metrics`); rules the mixins do not have (OOM kills, restarts, pending and
 * unschedulable pods, memory near limit, agent absent, kubepulse self-checks) are ours.
 * Kept in TypeScript so the build ships it without copying data files.
 */
export const DEFAULT_RULES_YAML = String.raw`
groups:
- name: kubepulse-pods
  rules:
  - alert: KubePodCrashLooping
    expr: |
      max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff", job="kube-state-metrics"}[5m]) >= 1
    for: 15m
    labels:
      severity: warning
    annotations:
      summary: Pod is crash looping.
      description: 'Pod {{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) is in waiting state (reason: "CrashLoopBackOff").'
      runbook_url: https://github.com/kubernetes-monitoring/kubernetes-mixin/tree/master/runbook.md#alert-name-kubepodcrashlooping
  - alert: KubeContainerOOMKilled
    expr: |
      (increase(kube_pod_container_status_restarts_total{job="kube-state-metrics"}[10m]) >= 1)
      and on (cluster, namespace, pod, container)
      max by (cluster, namespace, pod, container) (kube_pod_container_status_last_terminated_reason{reason="OOMKilled", job="kube-state-metrics"}) == 1
    labels:
      severity: warning
    annotations:
      summary: Container was OOM-killed.
      description: 'Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} was killed for running out of memory and restarted.'
  - alert: KubePodRestartingOften
    expr: |
      increase(kube_pod_container_status_restarts_total{job="kube-state-metrics"}[1h]) > 5
    labels:
      severity: warning
    annotations:
      summary: Container restarts often.
      description: 'Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} restarted {{ printf "%.0f" $value }} times in the last hour.'
  - alert: KubePodNotReady
    expr: |
      max by (cluster, namespace, pod) (
        kube_pod_status_phase{job="kube-state-metrics", phase="Running"} == 1
        and on (cluster, namespace, pod)
        kube_pod_status_ready{job="kube-state-metrics", condition="true"} == 0
      )
    for: 15m
    labels:
      severity: warning
    annotations:
      summary: Pod has been in a non-ready state for more than 15 minutes.
      description: 'Pod {{ $labels.namespace }}/{{ $labels.pod }} has been running but not ready for longer than 15 minutes.'
  - alert: KubePodPending
    expr: |
      max by (cluster, namespace, pod) (kube_pod_status_phase{job="kube-state-metrics", phase="Pending"}) == 1
    for: 15m
    labels:
      severity: warning
    annotations:
      summary: Pod has been pending for more than 15 minutes.
      description: 'Pod {{ $labels.namespace }}/{{ $labels.pod }} has been in the Pending phase for longer than 15 minutes.'
  - alert: KubePodUnschedulable
    expr: |
      max by (cluster, namespace, pod) (kube_pod_status_unschedulable{job="kube-state-metrics"}) == 1
    for: 5m
    labels:
      severity: warning
    annotations:
      summary: Pod cannot be scheduled.
      description: 'Pod {{ $labels.namespace }}/{{ $labels.pod }} has been unschedulable for more than 5 minutes.'
  - alert: CPUThrottlingHigh
    expr: |
      sum without (id, metrics_path, name, image, endpoint, job, node) (
        topk by (cluster, namespace, pod, container, instance) (1,
          increase(container_cpu_cfs_throttled_periods_total{container!="", job="kubelet", metrics_path="/metrics/cadvisor"}[5m])
        )
      )
      / on (cluster, namespace, pod, container, instance) group_left
      sum without (id, metrics_path, name, image, endpoint, job, node) (
        topk by (cluster, namespace, pod, container, instance) (1,
          increase(container_cpu_cfs_periods_total{job="kubelet", metrics_path="/metrics/cadvisor"}[5m])
        )
      )
      > ( 25 / 100 )
    for: 15m
    labels:
      severity: info
    annotations:
      summary: Processes experience elevated CPU throttling.
      description: '{{ $value | humanizePercentage }} throttling of CPU in namespace {{ $labels.namespace }} for container {{ $labels.container }} in pod {{ $labels.pod }}.'
      runbook_url: https://github.com/kubernetes-monitoring/kubernetes-mixin/tree/master/runbook.md#alert-name-cputhrottlinghigh
  - alert: KubeContainerMemoryNearLimit
    expr: |
      max by (cluster, namespace, pod, container) (container_memory_working_set_bytes{job="kubelet", metrics_path="/metrics/cadvisor", container!=""})
      / on (cluster, namespace, pod, container)
      max by (cluster, namespace, pod, container) (kube_pod_container_resource_limits{job="kube-state-metrics", resource="memory"} > 0)
      > 0.9
    for: 15m
    labels:
      severity: warning
    annotations:
      summary: Container memory working set is near its limit.
      description: 'Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} uses {{ $value | humanizePercentage }} of its memory limit.'
- name: kubepulse-nodes
  rules:
  - alert: KubeNodeNotReady
    expr: |
      kube_node_status_condition{job="kube-state-metrics",condition="Ready",status="true"} == 0
      and on (cluster, node)
      kube_node_spec_unschedulable{job="kube-state-metrics"} == 0
    for: 15m
    labels:
      severity: warning
    annotations:
      summary: Node is not ready.
      description: '{{ $labels.node }} has been unready for more than 15 minutes.'
      runbook_url: https://github.com/kubernetes-monitoring/kubernetes-mixin/tree/master/runbook.md#alert-name-kubenodenotready
  - alert: KubeNodePressure
    expr: |
      kube_node_status_condition{job="kube-state-metrics",condition=~"(MemoryPressure|DiskPressure|PIDPressure)",status="true"} == 1
      and on (cluster, node)
      kube_node_spec_unschedulable{job="kube-state-metrics"} == 0
    for: 10m
    labels:
      severity: info
    annotations:
      summary: Node has an active pressure condition.
      description: '{{ $labels.node }} has active Condition {{ $labels.condition }}. This is caused by resource usage exceeding eviction thresholds.'
      runbook_url: https://github.com/kubernetes-monitoring/kubernetes-mixin/tree/master/runbook.md#alert-name-kubenodepressure
  - alert: NodeFilesystemSpaceFillingUp
    expr: |
      (
        node_filesystem_avail_bytes{job="node-exporter",fstype!="",mountpoint!=""} / node_filesystem_size_bytes{job="node-exporter",fstype!="",mountpoint!=""} * 100 < 20
      and
        predict_linear(node_filesystem_avail_bytes{job="node-exporter",fstype!="",mountpoint!=""}[6h], 4*60*60) < 0
      and
        node_filesystem_readonly{job="node-exporter",fstype!="",mountpoint!=""} == 0
      )
    for: 1h
    labels:
      severity: critical
    annotations:
      summary: Filesystem is predicted to run out of space within the next 4 hours.
      description: 'Filesystem on {{ $labels.device }}, mounted on {{ $labels.mountpoint }}, at {{ $labels.instance }} has only {{ printf "%.2f" $value }}% available space left and is filling up fast.'
  - alert: KubePersistentVolumeFillingUp
    expr: |
      (
        kubelet_volume_stats_available_bytes{job="kubelet"}
          /
        kubelet_volume_stats_capacity_bytes{job="kubelet"}
      ) < 0.15
      and
      kubelet_volume_stats_used_bytes{job="kubelet"} > 0
      and
      predict_linear(kubelet_volume_stats_available_bytes{job="kubelet"}[6h], 4 * 60 * 60) < 0
    for: 1h
    labels:
      severity: warning
    annotations:
      summary: PersistentVolume is filling up.
      description: 'Based on recent sampling, the PersistentVolume claimed by {{ $labels.persistentvolumeclaim }} in Namespace {{ $labels.namespace }} is expected to fill up within four hours. Currently {{ $value | humanizePercentage }} is available.'
  - alert: NodeNetworkReceiveErrs
    expr: |
      rate(node_network_receive_errs_total{job="node-exporter"}[2m]) / rate(node_network_receive_packets_total{job="node-exporter"}[2m]) > 0.01
    for: 1h
    labels:
      severity: warning
    annotations:
      summary: Network interface is reporting many receive errors.
      description: '{{ $labels.instance }} interface {{ $labels.device }} has encountered {{ printf "%.0f" $value }} receive errors in the last two minutes.'
  - alert: NodeNetworkTransmitErrs
    expr: |
      rate(node_network_transmit_errs_total{job="node-exporter"}[2m]) / rate(node_network_transmit_packets_total{job="node-exporter"}[2m]) > 0.01
    for: 1h
    labels:
      severity: warning
    annotations:
      summary: Network interface is reporting many transmit errors.
      description: '{{ $labels.instance }} interface {{ $labels.device }} has encountered {{ printf "%.0f" $value }} transmit errors in the last two minutes.'
  - alert: KubepulseAgentAbsent
    expr: |
      max by (cluster, node) (kube_node_info{job="kube-state-metrics"})
      unless on (cluster, node)
      max by (cluster, node) (node_cpu_seconds_total{job="node-exporter"})
    for: 5m
    labels:
      severity: warning
    annotations:
      summary: No data from the kubepulse agent of a node.
      description: 'Node {{ $labels.node }} is in the cluster but its kubepulse agent has pushed no node data for 5 minutes.'
- name: kubepulse-self
  rules:
  - alert: KubepulseRuleEvaluationFailures
    expr: |
      sum by (cluster, instance, rule_group) (increase(kubepulse_rules_evaluation_failures_total[5m])) > 0
    for: 10m
    labels:
      severity: warning
    annotations:
      summary: Rule evaluations are failing.
      description: 'Rules of group {{ $labels.rule_group }} failed {{ printf "%.0f" $value }} times in the last 5 minutes.'
  - alert: KubepulseRuleReloadFailed
    expr: |
      kubepulse_rules_last_reload_successful == 0
    for: 10m
    labels:
      severity: warning
    annotations:
      summary: Reloading the rule files failed.
      description: 'The last reload of rule files failed; the previous rules are still running. See the collector log.'
  - alert: KubepulseNotificationsFailing
    expr: |
      sum by (cluster, instance, receiver) (increase(kubepulse_notifier_notifications_failed_total[10m])) > 0
      unless on (cluster, instance, receiver)
      sum by (cluster, instance, receiver) (increase(kubepulse_notifier_notifications_sent_total[10m])) > 0
    for: 10m
    labels:
      severity: critical
    annotations:
      summary: Notifications to a receiver are failing.
      description: 'Every notification to receiver {{ $labels.receiver }} failed in the last 10 minutes; they wait in the outbox and are retried.'
  - alert: KubepulseNotificationBacklog
    expr: |
      kubepulse_notifier_queue_length > 100
    for: 15m
    labels:
      severity: warning
    annotations:
      summary: Notifications are piling up.
      description: '{{ $value }} notifications wait in the outbox.'
`;
