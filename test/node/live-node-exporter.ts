/**
 * Starts the real prometheus-node-exporter with the collectors the node source covers,
 * configured with the node source's defaults (so both filter the same devices, mounts
 * and fields), and scrapes it. Shared by the live test and the benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { freePort } from '../helpers/procs.js';
import {
  DEFAULT_DISK_EXCLUDE,
  DEFAULT_FS_TYPES_EXCLUDE,
  DEFAULT_MOUNT_POINTS_EXCLUDE,
  DEFAULT_NETSTAT_FIELDS,
  DEFAULT_VMSTAT_FIELDS,
  NODE_COLLECTORS,
} from '../../agent/sources/node/index.js';

export const NODE_EXPORTER_BIN = '/usr/bin/prometheus-node-exporter';

export function nodeExporterAvailable(): boolean {
  return existsSync(NODE_EXPORTER_BIN);
}


export interface RunningExporter {
  readonly url: string;
  readonly pid: number;
  scrape(): Promise<string>;
  /** CPU seconds (user+system) the exporter has used, from /proc/<pid>/stat. */
  cpuSeconds(): number;
  /** Resident set size in bytes, from /proc/<pid>/status. */
  rssBytes(): number;
  stop(): Promise<void>;
}

/** The exporter flags that make node_exporter 1.5 behave as the node source's defaults. */
export function alignedFlags(): string[] {
  return [
    '--collector.disable-defaults',
    ...NODE_COLLECTORS.map((c) => `--collector.${c}`),
    `--collector.diskstats.device-exclude=${DEFAULT_DISK_EXCLUDE.source}`,
    `--collector.filesystem.mount-points-exclude=${DEFAULT_MOUNT_POINTS_EXCLUDE.source}`,
    `--collector.filesystem.fs-types-exclude=${DEFAULT_FS_TYPES_EXCLUDE.source}`,
    // Debian's build excludes lo; upstream excludes nothing.
    '--collector.netdev.device-exclude=^$',
    // The /proc/net/dev columns, as the node source reads them (netlink adds rx_nohandler).
    '--no-collector.netdev.netlink',
    `--collector.netstat.fields=${DEFAULT_NETSTAT_FIELDS.source}`,
    `--collector.vmstat.fields=${DEFAULT_VMSTAT_FIELDS.source}`,
  ];
}

export async function startNodeExporter(extraFlags: string[] = []): Promise<RunningExporter> {
  const port = await freePort();
  const child: ChildProcess = spawn(NODE_EXPORTER_BIN, [`--web.listen-address=127.0.0.1:${port}`, ...alignedFlags(), ...extraFlags], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 20_000) stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}/metrics`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  };
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${NODE_EXPORTER_BIN}`);
  const scrape = async () => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`node_exporter answered ${res.status}`);
    return res.text();
  };
  // Bounded wait for the listener: 50 × 100 ms.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`node_exporter exited with ${child.exitCode}: ${stderr}`);
    try {
      await scrape();
      break;
    } catch (err) {
      if (i >= 50) {
        await stop();
        throw new Error(`node_exporter did not answer on ${url}: ${String(err)}; stderr: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    pid,
    scrape,
    cpuSeconds: () => procCpuSeconds(pid),
    rssBytes: () => procRssBytes(pid),
    stop,
  };
}

/** utime+stime of a process, seconds (USER_HZ = 100). */
export function procCpuSeconds(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export function procRssBytes(pid: number | 'self'): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}
