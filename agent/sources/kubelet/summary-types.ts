/**
 * The kubelet Summary API (`GET /stats/summary`, k8s.io/kubelet/pkg/apis/stats/v1alpha1),
 * as far as the agent reads it. Every field is optional: kubelets of different versions
 * and runtimes leave different ones out (`psi` from 1.34, `swap` from 1.28, no `logs`
 * under some runtimes), and a missing field means "no sample", never zero.
 */

export interface PsiData {
  /** Cumulative stall time, microseconds. */
  total?: number;
  avg10?: number;
  avg60?: number;
  avg300?: number;
}

export interface PsiStats {
  full?: PsiData;
  some?: PsiData;
}

export interface CpuStats {
  time?: string;
  usageNanoCores?: number;
  /** Cumulative CPU time, nanoseconds. */
  usageCoreNanoSeconds?: number;
  psi?: PsiStats;
}

export interface MemoryStats {
  time?: string;
  availableBytes?: number;
  usageBytes?: number;
  workingSetBytes?: number;
  rssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
  psi?: PsiStats;
}

export interface IoStats {
  time?: string;
  psi?: PsiStats;
}

export interface InterfaceStats {
  name?: string;
  rxBytes?: number;
  rxErrors?: number;
  txBytes?: number;
  txErrors?: number;
}

export interface NetworkStats extends InterfaceStats {
  time?: string;
  interfaces?: InterfaceStats[];
}

export interface FsStats {
  time?: string;
  availableBytes?: number;
  capacityBytes?: number;
  usedBytes?: number;
  inodesFree?: number;
  inodes?: number;
  inodesUsed?: number;
}

export interface SwapStats {
  time?: string;
  swapAvailableBytes?: number;
  swapUsageBytes?: number;
}

export interface ContainerStats {
  name?: string;
  startTime?: string;
  cpu?: CpuStats;
  memory?: MemoryStats;
  io?: IoStats;
  rootfs?: FsStats;
  logs?: FsStats;
  swap?: SwapStats;
}

export interface PodReference {
  name?: string;
  namespace?: string;
  uid?: string;
}

export interface VolumeStats extends FsStats {
  name?: string;
  pvcRef?: { name?: string; namespace?: string };
}

export interface PodStats {
  podRef?: PodReference;
  startTime?: string;
  containers?: ContainerStats[];
  cpu?: CpuStats;
  memory?: MemoryStats;
  io?: IoStats;
  network?: NetworkStats;
  volume?: VolumeStats[];
  'ephemeral-storage'?: FsStats;
  swap?: SwapStats;
}

export interface NodeStats {
  nodeName?: string;
  startTime?: string;
  cpu?: CpuStats;
  memory?: MemoryStats;
  network?: NetworkStats;
  fs?: FsStats;
  swap?: SwapStats;
}

export interface Summary {
  node?: NodeStats;
  pods?: PodStats[];
}
