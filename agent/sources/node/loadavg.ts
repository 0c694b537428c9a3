/**
 * `/proc/loadavg`: node_load1, node_load5, node_load15.
 */
import type { MetricSink } from '../source.js';

export function parseLoadavg(text: string): [number, number, number] {
  const f = text.trim().split(/\s+/);
  const loads = [Number(f[0]), Number(f[1]), Number(f[2])];
  if (loads.some((x) => !Number.isFinite(x))) throw new Error(`unexpected /proc/loadavg content: ${JSON.stringify(text.slice(0, 80))}`);
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
