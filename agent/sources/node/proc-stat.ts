/**
 * `/proc/stat`: CPU time by mode, as node_exporter's cpu and stat collectors report it.
 */
import type { MetricSink } from '../source.js';

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

export function parseProcStat(text: string): ProcStat {
  const out: ProcStat = { cpus: [] };
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const key = f[0];
    if (key.startsWith('cpu') && key.length > 3) {
      const cpu = key.slice(3);
      const modes: Record<string, number> = {};
      CPU_MODES.forEach((m, i) => {
        const raw = f[i + 1];
        if (raw !== undefined) modes[m] = Number(raw) / USER_HZ;
      });
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

export function emitProcStat(s: ProcStat, sink: MetricSink): void {
  sink.family('node_cpu_seconds_total', 'counter', 'Seconds the CPUs spent in each mode.');
  sink.family('node_cpu_guest_seconds_total', 'counter', 'Seconds the CPUs spent in guests (VMs) for each mode.');
  for (const c of s.cpus) {
    for (const [mode, v] of Object.entries(c.modes)) sink.add('node_cpu_seconds_total', { cpu: c.cpu, mode }, v);
    sink.add('node_cpu_guest_seconds_total', { cpu: c.cpu, mode: 'user' }, c.guest);
    sink.add('node_cpu_guest_seconds_total', { cpu: c.cpu, mode: 'nice' }, c.guestNice);
  }
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
