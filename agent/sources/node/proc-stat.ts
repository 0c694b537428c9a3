/**
 * `/proc/stat`: CPU time by mode, as node_exporter's cpu and stat collectors report it.
 */
import { join } from 'node:path';
import type { MetricSink } from '../source.js';
import type { NodeCollector } from './read.js';
import { readText } from './read.js';

/** Kernel ticks per second of /proc/stat; fixed at 100 on every Linux ABI. */
export const USER_HZ = 100;

const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

export interface ProcStat {
  /** Per CPU (by number), seconds per mode. */
  cpus: Array<{ cpu: string; modes: Record<string, number>; guest: number; guestNice: number }>;
  contextSwitches?: number;
  interrupts?: number;
  bootTime?: number;
  forks?: number;
  procsRunning?: number;
  procsBlocked?: number;
}

/** Parses `/proc/stat`; lines it does not know (softirq, …) are ignored. */
export function parseProcStat(text: string): ProcStat {
  const out: ProcStat = { cpus: [] };
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const key = f[0];
    if (key.startsWith('cpu') && key.length > 3) {
      if (!/^cpu\d+$/.test(key)) continue;
      const cpu = key.slice(3);
      const modes: Record<string, number> = {};
      CPU_MODES.forEach((m, i) => {
        const raw = f[i + 1];
        if (raw !== undefined) modes[m] = Number(raw) / USER_HZ;
      });
      if (Object.values(modes).some((v) => !Number.isFinite(v))) throw new Error(`unexpected /proc/stat line: ${JSON.stringify(line.slice(0, 80))}`);
      out.cpus.push({ cpu, modes, guest: Number(f[9] ?? 0) / USER_HZ, guestNice: Number(f[10] ?? 0) / USER_HZ });
    } else if (key === 'ctxt') out.contextSwitches = Number(f[1]);
    else if (key === 'intr') out.interrupts = Number(f[1]);
    else if (key === 'btime') out.bootTime = Number(f[1]);
    else if (key === 'processes') out.forks = Number(f[1]);
    else if (key === 'procs_running') out.procsRunning = Number(f[1]);
    else if (key === 'procs_blocked') out.procsBlocked = Number(f[1]);
  }
  return out;
}

/** node_exporter's cpu collector, the /proc/stat part: per-CPU seconds by mode. */
export function emitCpuSeconds(s: ProcStat, sink: MetricSink): void {
  sink.family('node_cpu_seconds_total', 'counter', 'Seconds the CPUs spent in each mode.');
  sink.family('node_cpu_guest_seconds_total', 'counter', 'Seconds the CPUs spent in guests (VMs) for each mode.');
  for (const c of s.cpus) {
    for (const [mode, v] of Object.entries(c.modes)) sink.add('node_cpu_seconds_total', { cpu: c.cpu, mode }, v);
    sink.add('node_cpu_guest_seconds_total', { cpu: c.cpu, mode: 'user' }, c.guest);
    sink.add('node_cpu_guest_seconds_total', { cpu: c.cpu, mode: 'nice' }, c.guestNice);
  }
}

/** node_exporter's stat collector: boot time, context switches, interrupts, forks, procs. */
export function emitStat(s: ProcStat, sink: MetricSink): void {
  const single: Array<[string, number | undefined, 'counter' | 'gauge', string]> = [
    ['node_context_switches_total', s.contextSwitches, 'counter', 'Total number of context switches.'],
    ['node_intr_total', s.interrupts, 'counter', 'Total number of interrupts serviced.'],
    ['node_boot_time_seconds', s.bootTime, 'gauge', 'Node boot time, in unixtime.'],
    ['node_forks_total', s.forks, 'counter', 'Total number of forks.'],
    ['node_procs_running', s.procsRunning, 'gauge', 'Number of processes in runnable state.'],
    ['node_procs_blocked', s.procsBlocked, 'gauge', 'Number of processes blocked waiting for I/O to complete.'],
  ];
  for (const [name, v, type, help] of single) {
    if (v === undefined || Number.isNaN(v)) continue;
    sink.family(name, type, help);
    sink.add(name, {}, v);
  }
}

/** Both /proc/stat collectors share one read: `cpu` (seconds by mode) and `stat`. */
export const procStatCollector: NodeCollector = {
  name: 'stat',
  async collect(env, sink) {
    const s = parseProcStat(await readText(join(env.paths.proc, 'stat'), env.signal));
    emitCpuSeconds(s, sink);
    emitStat(s, sink);
  },
};
