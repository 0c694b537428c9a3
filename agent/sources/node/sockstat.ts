/**
 * node_exporter's sockstat collector: `/proc/net/sockstat` and `sockstat6` (pid 1's first,
 * the host's network namespace).
 */
import { join } from 'node:path';
import type { NodeCollector } from './read.js';
import { emitOne, readFirst } from './read.js';

/**
 * `/proc/net/sockstat` and `sockstat6`: `PROTO: key value key value …` lines. Returns
 * `[metricSuffix, value]`, e.g. `['TCP_inuse', 3]`, and `sockets_used`.
 */
export function parseSockstat(text: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const proto = line.slice(0, colon);
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (f.length % 2 !== 0) throw new Error(`odd number of fields in sockstat line: ${JSON.stringify(line)}`);
    for (let i = 0; i < f.length; i += 2) {
      const v = Number(f[i + 1]);
      if (!Number.isFinite(v)) throw new Error(`non-numeric sockstat value in: ${JSON.stringify(line)}`);
      out.push([proto === 'sockets' ? `sockets_${f[i]}` : `${proto}_${f[i]}`, v]);
    }
  }
  return out;
}

export function sockstatCollector(pageSize: number): NodeCollector {
  return {
    name: 'sockstat',
    async collect(env, sink) {
      const emit = (text: string) => {
        for (const [k, v] of parseSockstat(text)) {
          emitOne(sink, `node_sockstat_${k}`, 'gauge', `Number of ${k.replace('_', ' ')}.`, {}, v);
          // The kernel counts socket memory in pages; node_exporter adds a bytes twin.
          if (k.endsWith('_mem')) emitOne(sink, `node_sockstat_${k}_bytes`, 'gauge', `Number of ${k.replace('_', ' ')} in bytes.`, {}, v * pageSize);
        }
      };
      const p = env.paths.proc;
      emit(await readFirst([join(p, '1/net/sockstat'), join(p, 'net/sockstat')], env.signal));
      // sockstat6 is absent when IPv6 is disabled: that is not an error.
      const six = await readFirst([join(p, '1/net/sockstat6'), join(p, 'net/sockstat6')], env.signal).catch(() => undefined);
      if (six !== undefined) emit(six);
    },
  };
}
