/**
 * node_exporter's netclass collector: `/sys/class/net/<iface>/*` attributes as
 * `node_network_<attr>{device}`, plus `node_network_up` and `node_network_info`.
 * Attributes a driver does not offer (e.g. `speed` of a link that is down) are skipped
 * per device, as node_exporter does.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeCollector } from './read.js';
import { readDirOptional, readOptional } from './read.js';

/** Numeric attributes: file, metric suffix, type, radix of the file. */
const NUMERIC: ReadonlyArray<readonly [string, string, 'gauge' | 'counter', 10 | 16]> = [
  ['addr_assign_type', 'address_assign_type', 'gauge', 10],
  ['carrier', 'carrier', 'gauge', 10],
  ['carrier_changes', 'carrier_changes_total', 'counter', 10],
  ['carrier_up_count', 'carrier_up_changes_total', 'counter', 10],
  ['carrier_down_count', 'carrier_down_changes_total', 'counter', 10],
  ['dev_id', 'device_id', 'gauge', 16],
  ['dormant', 'dormant', 'gauge', 10],
  ['flags', 'flags', 'gauge', 16],
  ['ifindex', 'iface_id', 'gauge', 10],
  ['iflink', 'iface_link', 'gauge', 10],
  ['link_mode', 'iface_link_mode', 'gauge', 10],
  ['mtu', 'mtu_bytes', 'gauge', 10],
  ['name_assign_type', 'name_assign_type', 'gauge', 10],
  ['netdev_group', 'net_dev_group', 'gauge', 10],
  ['tx_queue_len', 'transmit_queue_length', 'gauge', 10],
  ['type', 'protocol_type', 'gauge', 10],
];

const TEXT = ['address', 'broadcast', 'duplex', 'operstate', 'ifalias'] as const;

/** One interface as read from sysfs; absent attributes are `undefined`. */
export interface NetClassIface {
  name: string;
  text: Partial<Record<(typeof TEXT)[number], string>>;
  numbers: Map<string, number>;
  /** Mbit/s; -1 when the driver does not know. */
  speed?: number;
}

function parseInt10or16(s: string | undefined, radix: 10 | 16): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (t === '') return undefined;
  const v = radix === 16 ? Number.parseInt(t.replace(/^0x/i, ''), 16) : Number(t);
  return Number.isFinite(v) ? v : undefined;
}

/** Reads every attribute of one interface directory. */
export async function readNetClassIface(dir: string, name: string, signal: AbortSignal): Promise<NetClassIface> {
  const [texts, numbers, speed] = await Promise.all([
    Promise.all(TEXT.map((f) => readOptional(join(dir, f), signal))),
    Promise.all(NUMERIC.map(([f]) => readOptional(join(dir, f), signal))),
    readOptional(join(dir, 'speed'), signal),
  ]);
  const iface: NetClassIface = { name, text: {}, numbers: new Map() };
  TEXT.forEach((f, i) => {
    const t = texts[i];
    if (t !== undefined) iface.text[f] = t.trim();
  });
  NUMERIC.forEach(([, metric, , radix], i) => {
    const v = parseInt10or16(numbers[i], radix);
    if (v !== undefined) iface.numbers.set(metric, v);
  });
  iface.speed = parseInt10or16(speed, 10);
  return iface;
}

export interface NetClassOptions {
  /** Devices to skip (`--collector.netclass.ignored-devices`, default `^$`). */
  ignoredDevices?: RegExp;
  /** Drop `node_network_speed_bytes` when the driver reports -1 (`--collector.netclass.ignore-invalid-speed`). */
  ignoreInvalidSpeed?: boolean;
}

export function netclassCollector(opts: NetClassOptions = {}): NodeCollector {
  const ignored = opts.ignoredDevices ?? /^$/;
  return {
    name: 'netclass',
    async collect(env, sink) {
      const base = join(env.paths.sys, 'class/net');
      const entries = await readDirOptional(base);
      if (entries === undefined) throw Object.assign(new Error(`${base} does not exist`), { code: 'ENOENT' });
      const names: string[] = [];
      for (const e of entries) {
        if (ignored.test(e)) continue;
        // bonding_masters and other plain files sit beside the interface links.
        if (statSync(join(base, e), { throwIfNoEntry: false })?.isDirectory()) names.push(e);
      }
      names.sort();
      const ifaces = await Promise.all(names.map((n) => readNetClassIface(join(base, n), n, env.signal)));
      sink.family('node_network_up', 'gauge', "Value is 1 if operstate is 'up', 0 otherwise.");
      sink.family('node_network_info', 'gauge', 'Non-numeric data from /sys/class/net/<iface>, value is always 1.');
      for (const i of ifaces) {
        const device = i.name;
        sink.add('node_network_up', { device }, i.text.operstate === 'up' ? 1 : 0);
        const flags = i.numbers.get('flags');
        const adminstate = flags === undefined ? 'unknown' : (flags & 1) === 1 ? 'up' : 'down';
        sink.add('node_network_info', { device, address: i.text.address ?? '', broadcast: i.text.broadcast ?? '', duplex: i.text.duplex ?? '', operstate: i.text.operstate ?? '', adminstate, ifalias: i.text.ifalias ?? '' }, 1);
        for (const [, metric, type] of NUMERIC) {
          const v = i.numbers.get(metric);
          if (v === undefined) continue;
          const name = `node_network_${metric}`;
          sink.family(name, type, `Network device property: ${metric}`);
          sink.add(name, { device }, v);
        }
        if (i.speed !== undefined && (i.speed >= 0 || !opts.ignoreInvalidSpeed)) {
          sink.family('node_network_speed_bytes', 'gauge', 'Network device property: speed_bytes');
          sink.add('node_network_speed_bytes', { device }, Math.trunc((i.speed * 1000 * 1000) / 8));
        }
      }
    },
  };
}
