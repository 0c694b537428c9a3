/**
 * The node source: host metrics from `<host-root>/proc` and `<host-root>/sys`, named as
 * node_exporter names them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CollectContext, MetricSink, Source } from '../source.js';
import { emitProcStat, parseProcStat } from './proc-stat.js';
import { emitMeminfo, parseMeminfo } from './meminfo.js';
import { emitLoadavg, parseLoadavg } from './loadavg.js';

export interface NodeSourceOptions {
  /** Where the host's filesystem is mounted: `/` locally, `/host` in the DaemonSet. */
  hostRoot: string;
  /** Labels on every node series, e.g. `{job: 'node-exporter'}`. */
  targetLabels: Readonly<Record<string, string>>;
}

interface Collector {
  name: string;
  file: string;
  emit(text: string, sink: MetricSink): void;
}

const COLLECTORS: Collector[] = [
  { name: 'stat', file: 'proc/stat', emit: (t, s) => emitProcStat(parseProcStat(t), s) },
  { name: 'meminfo', file: 'proc/meminfo', emit: (t, s) => emitMeminfo(parseMeminfo(t), s) },
  { name: 'loadavg', file: 'proc/loadavg', emit: (t, s) => emitLoadavg(parseLoadavg(t), s) },
];

export class NodeSource implements Source {
  readonly name = 'node';
  readonly targetLabels: Readonly<Record<string, string>>;
  private readonly hostRoot: string;

  constructor(opts: NodeSourceOptions) {
    this.hostRoot = opts.hostRoot;
    this.targetLabels = opts.targetLabels;
  }

  async collect(sink: MetricSink, ctx: CollectContext): Promise<void> {
    await Promise.all(
      COLLECTORS.map(async (c) => {
        let text: string;
        try {
          text = await readFile(join(this.hostRoot, c.file), { encoding: 'utf8', signal: ctx.signal });
        } catch (err) {
          ctx.reportError(`${c.name}_read`, err);
          return;
        }
        try {
          c.emit(text, sink);
        } catch (err) {
          ctx.reportError(`${c.name}_parse`, err);
        }
      }),
    );
  }
}
