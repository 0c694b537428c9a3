/**
 * node_exporter's netdev collector over `/proc/net/dev`: one counter per column,
 * `node_network_{receive,transmit}_<column>_total{device}`. Reads the host's network
 * namespace (`<proc>/1/net/dev`) first: in a pod without hostNetwork, `<proc>/net/dev`
 * would be the pod's own namespace.
 */
import { join } from 'node:path';
import type { NodeCollector } from './read.js';
import { readFirst } from './read.js';

export interface NetDevStats {
  device: string;
  /** `receive_bytes` … `transmit_compressed` → value. */
  values: Map<string, number>;
}

/**
 * Parses `/proc/net/dev`. Column names come from the second header line, so extra
 * columns of a future kernel are kept. The device name ends at the last `:` of the line
 * (the counters never contain one), so odd names survive.
 */
export function parseNetDev(text: string): NetDevStats[] {
  const lines = text.split('\n');
  if (lines.length < 2 || !lines[1].includes('|')) throw new Error('unexpected /proc/net/dev header');
  const [, rx, tx] = lines[1].split('|');
  if (rx === undefined || tx === undefined) throw new Error('unexpected /proc/net/dev header');
  const cols = [...rx.trim().split(/\s+/).map((c) => `receive_${c}`), ...tx.trim().split(/\s+/).map((c) => `transmit_${c}`)];
  const out: NetDevStats[] = [];
  for (const line of lines.slice(2)) {
    const colon = line.lastIndexOf(':');
    if (colon < 0) continue;
    const device = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (f.length !== cols.length) throw new Error(`/proc/net/dev: ${device} has ${f.length} fields, header has ${cols.length}`);
    const values = new Map<string, number>();
    cols.forEach((c, i) => values.set(c, Number(f[i])));
    out.push({ device, values });
  }
  return out;
}

export interface NetDevOptions {
  /** Devices to skip (node_exporter's `--collector.netdev.device-exclude`); none by default. */
  deviceExclude?: RegExp;
  /** Devices to keep (`--collector.netdev.device-include`); all by default. */
  deviceInclude?: RegExp;
}

export function netdevCollector(opts: NetDevOptions = {}): NodeCollector {
  return {
    name: 'netdev',
    async collect(env, sink) {
      const p = env.paths.proc;
      const stats = parseNetDev(await readFirst([join(p, '1/net/dev'), join(p, 'net/dev')], env.signal));
      for (const s of stats) {
        if (opts.deviceExclude?.test(s.device)) continue;
        if (opts.deviceInclude && !opts.deviceInclude.test(s.device)) continue;
        for (const [col, v] of s.values) {
          const name = `node_network_${col}_total`;
          sink.family(name, 'counter', `Network device statistic ${col}.`);
          sink.add(name, { device: s.device }, v);
        }
      }
    },
  };
}
