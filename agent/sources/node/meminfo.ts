/**
 * `/proc/meminfo` as node_exporter's meminfo collector names it: every field becomes
 * `node_memory_<Field>_bytes` (`(anon)`/`(file)` become `_anon`/`_file`); fields without
 * a unit (HugePages_Total, …) keep their name without `_bytes`.
 */
import { join } from 'node:path';
import type { MetricSink } from '../source.js';
import type { NodeCollector } from './read.js';
import { readText } from './read.js';

export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    let key = line.slice(0, colon).trim();
    const parts = line.slice(colon + 1).trim().split(/\s+/);
    let v = Number(parts[0]);
    if (!Number.isFinite(v)) continue;
    let name: string;
    key = key.replace(/\((\w+)\)/, '_$1');
    if (parts[1] === 'kB') {
      v *= 1024;
      name = `node_memory_${key}_bytes`;
    } else {
      name = `node_memory_${key}`;
    }
    out.set(name, v);
  }
  return out;
}

export function emitMeminfo(m: Map<string, number>, sink: MetricSink): void {
  for (const [name, v] of m) {
    const field = name.replace(/^node_memory_/, '').replace(/_bytes$/, '');
    sink.family(name, 'gauge', `Memory information field ${field}${name.endsWith('_bytes') ? '_bytes' : ''}.`);
    sink.add(name, {}, v);
  }
}

export const meminfoCollector: NodeCollector = {
  name: 'meminfo',
  async collect(env, sink) {
    emitMeminfo(parseMeminfo(await readText(join(env.paths.proc, 'meminfo'), env.signal)), sink);
  },
};
