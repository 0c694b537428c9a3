/**
 * `/proc/loadavg`: node_load1, node_load5, node_load15.
 */
import { join } from 'node:path';
import type { MetricSink } from '../source.js';
import type { NodeCollector } from './read.js';
import { readText } from './read.js';

export function parseLoadavg(text: string): [number, number, number] {
  const f = text.trim().split(/\s+/);
  const loads = [Number(f[0]), Number(f[1]), Number(f[2])];
  if (f.length < 3 || loads.some((x) => !Number.isFinite(x))) throw new Error(`unexpected /proc/loadavg content: ${JSON.stringify(text.slice(0, 80))}`);
  return loads as [number, number, number];
}

export function emitLoadavg(l: [number, number, number], sink: MetricSink): void {
  const names = ['node_load1', 'node_load5', 'node_load15'];
  const help = ['1m load average.', '5m load average.', '15m load average.'];
  names.forEach((n, i) => {
    sink.family(n, 'gauge', help[i]);
    sink.add(n, {}, l[i]);
  });
}

export const loadavgCollector: NodeCollector = {
  name: 'loadavg',
  async collect(env, sink) {
    emitLoadavg(parseLoadavg(await readText(join(env.paths.proc, 'loadavg'), env.signal)), sink);
  },
};
