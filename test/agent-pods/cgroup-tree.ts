/**
 * Generates kubepods cgroup trees (v1 and v2; systemd and cgroupfs drivers; containerd,
 * CRI-O and docker naming) with values derived from each cgroup's number, so tests can
 * state the expected series, and the matching API pods for a pod index.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';

export type Driver = 'systemd' | 'cgroupfs';
export type Runtime = 'containerd' | 'crio' | 'docker';
export type Qos = 'guaranteed' | 'burstable' | 'besteffort';

export interface TreeSpec {
  version: 1 | 2;
  driver: Driver;
  runtime: Runtime;
  pods: number;
  /** systemd driver only: nest under `kubelet.slice/kubelet-kubepods.slice` as kind does. */
  nested?: boolean;
  /** Containers per pod: a function of the pod number, default 2. */
  containersPerPod?: (pod: number) => number;
}

/** The numbers written for cgroup number `n`; tests derive expectations from them. */
export function valuesFor(n: number) {
  const limited = n % 5 !== 0;
  return {
    usageUsec: 1_000_000 * n + 123,
    periods: 1000 + n,
    throttled: 10 + n,
    throttledUsec: 5000 * n + 7,
    quotaUs: n % 3 === 0 ? undefined : 25_000 * ((n % 4) + 1),
    periodUs: 100_000,
    memLimit: limited ? 256 * 1024 * 1024 * ((n % 4) + 1) : undefined,
    oomKills: n % 7,
    psiSome: 1000 * n + 1,
    psiFull: 500 * n,
    cache: 4096 * n,
    rss: 8192 * n + 4096,
    usage: 1_048_576 * n + 65536,
    inactiveFile: 2048 * n,
  };
}

export interface GeneratedCgroup {
  /** Path relative to the hierarchy root, starting with `/`. */
  rel: string;
  n: number;
  labels: { namespace: string; pod: string; container: string; image: string };
}

export interface GeneratedTree {
  pods: V1Pod[];
  cgroups: GeneratedCgroup[];
  /** Directories that must be skipped (pause sandboxes, conmon). */
  ignored: string[];
}

const PREFIX: Record<Runtime, string> = { containerd: 'cri-containerd', crio: 'crio', docker: 'docker' };

function hex64(seed: number): string {
  let s = '';
  let x = seed * 2654435761;
  while (s.length < 64) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += x.toString(16).padStart(8, '0');
  }
  return s.slice(0, 64);
}

function uidFor(p: number): string {
  const h = hex64(p + 100_000);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function podDirs(spec: TreeSpec, qos: Qos, uid: string): string {
  if (spec.driver === 'cgroupfs') return qos === 'guaranteed' ? `/kubepods/pod${uid}` : `/kubepods/${qos}/pod${uid}`;
  const u = uid.replace(/-/g, '_');
  const [top, k] = spec.nested ? ['/kubelet.slice/kubelet-kubepods.slice', 'kubelet-kubepods'] : ['/kubepods.slice', 'kubepods'];
  return qos === 'guaranteed' ? `${top}/${k}-pod${u}.slice` : `${top}/${k}-${qos}.slice/${k}-${qos}-pod${u}.slice`;
}

function containerDir(spec: TreeSpec, id: string): string {
  if (spec.driver === 'systemd') return `${PREFIX[spec.runtime]}-${id}.scope`;
  return spec.runtime === 'crio' ? `crio-${id}` : id;
}

function write(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
}

function psi(some: number, full: number): string {
  return `some avg10=0.00 avg60=0.00 avg300=0.00 total=${some}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=${full}\n`;
}

/** Writes the files of cgroup `rel` with the numbers of `n`. */
export function writeCgroup(root: string, version: 1 | 2, rel: string, n: number): void {
  const v = valuesFor(n);
  if (version === 2) {
    write(join(root, rel), {
      'cgroup.procs': '',
      'cpu.stat': `usage_usec ${v.usageUsec}\nuser_usec 1\nsystem_usec 2\nnr_periods ${v.periods}\nnr_throttled ${v.throttled}\nthrottled_usec ${v.throttledUsec}\n`,
      'cpu.max': `${v.quotaUs ?? 'max'} ${v.periodUs}\n`,
      'memory.max': `${v.memLimit ?? 'max'}\n`,
      'memory.current': `${v.usage}\n`,
      'memory.events': `low 0\nhigh 0\nmax 3\noom 4\noom_kill ${v.oomKills}\noom_group_kill 0\n`,
      'memory.stat': `anon ${v.rss}\nfile ${v.cache}\nkernel 0\nactive_file 1\ninactive_file ${v.inactiveFile}\n`,
      'cpu.pressure': psi(v.psiSome, v.psiFull),
      'memory.pressure': psi(v.psiSome + 1, v.psiFull + 1),
      'io.pressure': psi(v.psiSome + 2, v.psiFull + 2),
    });
    return;
  }
  write(join(root, 'cpu,cpuacct', rel), {
    'cpu.stat': `nr_periods ${v.periods}\nnr_throttled ${v.throttled}\nthrottled_time ${v.throttledUsec * 1000}\n`,
    'cpu.cfs_quota_us': `${v.quotaUs ?? -1}\n`,
    'cpu.cfs_period_us': `${v.periodUs}\n`,
    'cpuacct.usage': `${v.usageUsec * 1000}\n`,
  });
  write(join(root, 'memory', rel), {
    'memory.limit_in_bytes': `${v.memLimit ?? '9223372036854771712'}\n`,
    'memory.usage_in_bytes': `${v.usage}\n`,
    'memory.oom_control': `oom_kill_disable 0\nunder_oom 0\noom_kill ${v.oomKills}\n`,
    'memory.stat': `cache 1\nrss 2\ninactive_file 3\ntotal_cache ${v.cache}\ntotal_rss ${v.rss}\ntotal_inactive_file ${v.inactiveFile}\n`,
  });
}

/** Writes a whole node's tree under `root` (the cgroup mount root). */
export function generateKubepodsTree(root: string, spec: TreeSpec, firstPod = 0): GeneratedTree {
  if (spec.version === 2) writeFileSync(join(mkdirP(root), 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
  else {
    mkdirP(join(root, 'cpu,cpuacct'));
    mkdirP(join(root, 'memory'));
  }
  const out: GeneratedTree = { pods: [], cgroups: [], ignored: [] };
  let n = firstPod * 100 + 1;
  const qosList: Qos[] = ['guaranteed', 'burstable', 'besteffort'];
  for (let p = firstPod; p < firstPod + spec.pods; p++) {
    const uid = uidFor(p);
    const qos = qosList[p % 3];
    const ns = `ns-${p % 4}`;
    const name = `pod-${p}`;
    const podRel = podDirs(spec, qos, uid);
    writeCgroup(root, spec.version, podRel, n);
    out.cgroups.push({ rel: podRel, n: n++, labels: { namespace: ns, pod: name, container: '', image: '' } });
    const count = spec.containersPerPod?.(p) ?? 2;
    const containers: Array<{ name: string; image: string }> = [];
    const statuses: Array<{ name: string; containerID: string; image: string; imageID: string; ready: boolean; restartCount: number }> = [];
    for (let c = 0; c < count; c++) {
      const id = hex64(p * 1000 + c + 1);
      const cname = `c${c}`;
      const image = `registry.example/app-${p % 10}:v${c}`;
      const rel = `${podRel}/${containerDir(spec, id)}`;
      writeCgroup(root, spec.version, rel, n);
      out.cgroups.push({ rel, n: n++, labels: { namespace: ns, pod: name, container: cname, image } });
      containers.push({ name: cname, image });
      const scheme = spec.runtime === 'crio' ? 'cri-o' : spec.runtime;
      statuses.push({ name: cname, containerID: `${scheme}://${id}`, image, imageID: '', ready: true, restartCount: 0 });
    }
    // The pod sandbox: a container cgroup whose ID no pod status lists.
    const pause = `${podRel}/${containerDir(spec, hex64(p * 1000 + 999))}`;
    writeCgroup(root, spec.version, pause, 99_999);
    out.ignored.push(pause);
    if (spec.runtime === 'crio' && spec.driver === 'systemd') {
      const conmon = `${podRel}/crio-conmon-${hex64(p * 1000 + 1)}.scope`;
      writeCgroup(root, spec.version, conmon, 99_998);
      out.ignored.push(conmon);
    }
    out.pods.push({
      metadata: { uid, namespace: ns, name },
      spec: { nodeName: 'node-1', containers },
      status: { phase: 'Running', containerStatuses: statuses },
    } as V1Pod);
  }
  return out;
}

function mkdirP(d: string): string {
  mkdirSync(d, { recursive: true });
  return d;
}

/** A summary for a generated tree: one pod entry per generated pod, cpu from the pod's cgroup number. */
export function summaryFor(tree: GeneratedTree): string {
  return JSON.stringify({
    node: { nodeName: 'node-1', cpu: { usageCoreNanoSeconds: 5e9 } },
    pods: tree.pods.map((p) => ({
      podRef: { uid: p.metadata!.uid, name: p.metadata!.name, namespace: p.metadata!.namespace },
      cpu: { usageCoreNanoSeconds: 1e9 },
      containers: p.spec!.containers.map((c) => ({ name: c.name, cpu: { usageCoreNanoSeconds: 2e9 }, memory: { workingSetBytes: 4096 } })),
    })),
  });
}
