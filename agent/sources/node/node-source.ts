/**
 * The node source: host metrics from `<host-root>/proc` and `<host-root>/sys`, named,
 * labelled and typed as node_exporter's default collectors name them (cpu, stat, meminfo,
 * loadavg, diskstats, filesystem, netdev, netclass, netstat, sockstat, filefd, vmstat,
 * pressure, uname, time). See docs/node-metrics.md for the list and the differences.
 */
import { join } from 'node:path';
import type { CollectContext, MetricSink, Source } from '../source.js';
import type { CollectorEnv, NodeCollector, NodePaths } from './read.js';
import { isAbsent } from './read.js';
import { procStatCollector } from './proc-stat.js';
import { cpuSysCollector } from './cpu-sys.js';
import { meminfoCollector } from './meminfo.js';
import { loadavgCollector } from './loadavg.js';
import type { DiskstatsOptions } from './diskstats.js';
import { diskstatsCollector } from './diskstats.js';
import type { FilesystemOptions } from './filesystem.js';
import { filesystemCollector } from './filesystem.js';
import type { NetDevOptions } from './netdev.js';
import { netdevCollector } from './netdev.js';
import type { NetClassOptions } from './netclass.js';
import { netclassCollector } from './netclass.js';
import { netstatCollector } from './netstat.js';
import { filefdCollector } from './filefd.js';
import { pressureCollector } from './pressure.js';
import { sockstatCollector } from './sockstat.js';
import { timeCollector } from './time-collector.js';
import { unameCollector } from './uname.js';
import { vmstatCollector } from './vmstat.js';
import { systemPageSize } from './page-size.js';

/** Every collector the node source has, by node_exporter's name. */
export const NODE_COLLECTORS = ['cpu', 'stat', 'meminfo', 'loadavg', 'diskstats', 'filesystem', 'netdev', 'netclass', 'netstat', 'sockstat', 'filefd', 'vmstat', 'pressure', 'uname', 'time'] as const;
export type NodeCollectorName = (typeof NODE_COLLECTORS)[number];

export interface NodeSourceOptions {
  /** Where the host's filesystem is mounted: `/` locally, `/host` in the DaemonSet. */
  hostRoot: string;
  /** Labels on every node series, e.g. `{job: 'node-exporter'}`. */
  targetLabels: Readonly<Record<string, string>>;
  /** procfs, default `<hostRoot>/proc`. */
  procPath?: string;
  /** sysfs, default `<hostRoot>/sys`. */
  sysPath?: string;
  /** udev database, default `<hostRoot>/run/udev/data`. */
  udevDataPath?: string;
  /** Collectors to run; default all of {@link NODE_COLLECTORS}. `cpu` and `stat` share one read of /proc/stat. */
  collectors?: readonly NodeCollectorName[];
  diskstats?: DiskstatsOptions;
  filesystem?: FilesystemOptions;
  netdev?: NetDevOptions;
  netclass?: NetClassOptions;
  /** `--collector.netstat.fields`; default node_exporter's. */
  netstatFields?: RegExp;
  /** `--collector.vmstat.fields`; default node_exporter's. */
  vmstatFields?: RegExp;
  /** Bytes per page for `node_sockstat_*_mem_bytes`; default this machine's. */
  pageSize?: number;
  /** Clock for `node_time_seconds`, epoch ms. */
  now?: () => number;
}

/**
 * Runs the enabled collectors concurrently each tick. A collector whose file is missing
 * or malformed reports one source error (`<collector>_unavailable` / `<collector>_failed`)
 * and loses only its own samples; the tick never fails. Reads of /proc and /sys are
 * synchronous (microseconds each); only statfs is asynchronous, with a timeout.
 */
export class NodeSource implements Source {
  readonly name = 'node';
  readonly targetLabels: Readonly<Record<string, string>>;
  readonly paths: NodePaths;
  private readonly collectors: readonly NodeCollector[];

  constructor(opts: NodeSourceOptions) {
    if (typeof opts.hostRoot !== 'string' || opts.hostRoot === '') throw new Error('node source: hostRoot must be a non-empty path');
    this.targetLabels = opts.targetLabels;
    this.paths = {
      proc: opts.procPath ?? join(opts.hostRoot, 'proc'),
      sys: opts.sysPath ?? join(opts.hostRoot, 'sys'),
      root: opts.hostRoot,
      udevData: opts.udevDataPath ?? join(opts.hostRoot, 'run/udev/data'),
    };
    const enabled = new Set<string>(opts.collectors ?? NODE_COLLECTORS);
    for (const c of enabled) {
      if (!(NODE_COLLECTORS as readonly string[]).includes(c)) throw new Error(`node source: unknown collector ${JSON.stringify(c)} (known: ${NODE_COLLECTORS.join(', ')})`);
    }
    const all: Array<[string, NodeCollector]> = [
      // One read of /proc/stat serves both node_exporter collectors.
      ['stat', procStatCollector],
      ['cpu', cpuSysCollector],
      ['meminfo', meminfoCollector],
      ['loadavg', loadavgCollector],
      ['diskstats', diskstatsCollector(opts.diskstats)],
      ['filesystem', filesystemCollector(opts.filesystem)],
      ['netdev', netdevCollector(opts.netdev)],
      ['netclass', netclassCollector(opts.netclass)],
      ['netstat', netstatCollector(opts.netstatFields)],
      ['sockstat', sockstatCollector(opts.pageSize ?? systemPageSize())],
      ['filefd', filefdCollector],
      ['vmstat', vmstatCollector(opts.vmstatFields)],
      ['pressure', pressureCollector],
      ['uname', unameCollector],
      ['time', timeCollector(opts.now)],
    ];
    this.collectors = all.filter(([n]) => enabled.has(n) || (n === 'stat' && enabled.has('cpu'))).map(([, c]) => c);
    this.statParts = { cpu: enabled.has('cpu'), stat: enabled.has('stat') };
  }

  private readonly statParts: { cpu: boolean; stat: boolean };

  async collect(sink: MetricSink, ctx: CollectContext): Promise<void> {
    const env: CollectorEnv = { paths: this.paths, signal: ctx.signal, now: ctx.now, reportError: (r, e) => ctx.reportError(r, e) };
    await Promise.all(
      this.collectors.map(async (c) => {
        if (ctx.signal.aborted) return;
        try {
          await c.collect(env, c === procStatCollector ? this.statSink(sink) : sink);
        } catch (err) {
          if (ctx.signal.aborted) return;
          ctx.reportError(isAbsent(err) ? `${c.name}_unavailable` : `${c.name}_failed`, err);
        }
      }),
    );
  }

  /** /proc/stat feeds two collectors; drop the half that is switched off. */
  private statSink(sink: MetricSink): MetricSink {
    const { cpu, stat } = this.statParts;
    if (cpu && stat) return sink;
    const keep = (name: string) => (name.startsWith('node_cpu_') ? cpu : stat);
    return {
      family: (n, t, h) => (keep(n) ? sink.family(n, t, h) : undefined),
      add: (n, l, v, t) => (keep(n) ? sink.add(n, l, v, t) : undefined),
    };
  }
}
