/**
 * node_exporter's pressure collector: PSI totals from `/proc/pressure/{cpu,io,memory,irq}`.
 */
import { join } from 'node:path';
import type { NodeCollector } from './read.js';
import { emitOne, readOptional, readText } from './read.js';

export interface PsiLine {
  /** Total stall time, seconds. */
  some?: number;
  full?: number;
}

/** One `/proc/pressure/<resource>` file: `some`/`full` lines with `total=` in µs. */
export function parsePressure(text: string): PsiLine {
  const out: PsiLine = {};
  for (const line of text.split('\n')) {
    const kind = line.startsWith('some ') ? 'some' : line.startsWith('full ') ? 'full' : undefined;
    if (!kind) continue;
    const m = /\btotal=(\d+)/.exec(line);
    if (!m) throw new Error(`pressure line without total: ${JSON.stringify(line.slice(0, 80))}`);
    out[kind] = Number(m[1]) / 1e6;
  }
  return out;
}

const PSI: Array<{ res: string; optional: boolean; some?: [string, string]; full?: [string, string] }> = [
  { res: 'cpu', optional: false, some: ['node_pressure_cpu_waiting_seconds_total', 'Total time in seconds that processes have waited for CPU time'] },
  {
    res: 'io',
    optional: false,
    some: ['node_pressure_io_waiting_seconds_total', 'Total time in seconds that processes have waited due to IO congestion'],
    full: ['node_pressure_io_stalled_seconds_total', 'Total time in seconds no process could make progress due to IO congestion'],
  },
  {
    res: 'memory',
    optional: false,
    some: ['node_pressure_memory_waiting_seconds_total', 'Total time in seconds that processes have waited for memory'],
    full: ['node_pressure_memory_stalled_seconds_total', 'Total time in seconds no process could make progress due to memory congestion'],
  },
  // IRQ pressure needs CONFIG_IRQ_TIME_ACCOUNTING and a 6.1+ kernel: absent is normal, not an error.
  { res: 'irq', optional: true, full: ['node_pressure_irq_stalled_seconds_total', 'Total time in seconds no process could make progress due to IRQ congestion'] },
];

export const pressureCollector: NodeCollector = {
  name: 'pressure',
  async collect(env, sink) {
    await Promise.all(
      PSI.map(async (p) => {
        const path = join(env.paths.proc, 'pressure', p.res);
        const text = p.optional ? await readOptional(path, env.signal) : await readText(path, env.signal).catch((err: unknown) => {
          env.reportError('pressure_unavailable', err);
          return undefined;
        });
        if (text === undefined) return;
        const v = parsePressure(text);
        if (p.some && v.some !== undefined) emitOne(sink, p.some[0], 'counter', p.some[1], {}, v.some);
        if (p.full && v.full !== undefined) emitOne(sink, p.full[0], 'counter', p.full[1], {}, v.full);
      }),
    );
  },
};
