/**
 * node_exporter's netstat collector: `/proc/net/netstat`, `/proc/net/snmp` (pairs of
 * header and value lines per protocol) and `/proc/net/snmp6` (one `Name value` per line),
 * filtered by node_exporter's default field regex and named `node_netstat_<Proto>_<Field>`.
 */
import { join } from 'node:path';
import type { NodeCollector } from './read.js';
import { readFirst } from './read.js';

/** node_exporter's default `--collector.netstat.fields` (1.9+). */
export const DEFAULT_NETSTAT_FIELDS =
  /^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$/;

/** `Proto: names…` / `Proto: values…` line pairs, as `Proto_Name → value`. */
export function parseNetstatPairs(text: string, out: Map<string, number> = new Map()): Map<string, number> {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i].trim().split(/\s+/);
    const values = lines[i + 1].trim().split(/\s+/);
    const proto = names[0].replace(/:$/, '');
    if (values[0] !== names[0]) throw new Error(`mismatched header and value lines for ${proto}`);
    if (names.length !== values.length) throw new Error(`${proto}: ${names.length - 1} names but ${values.length - 1} values`);
    for (let j = 1; j < names.length; j++) {
      const v = Number(values[j]);
      if (Number.isFinite(v)) out.set(`${proto}_${names[j]}`, v);
    }
  }
  return out;
}

/** `/proc/net/snmp6`: `Ip6InReceives 12` → `Ip6_InReceives`; the protocol ends at the first `6`. */
export function parseSnmp6(text: string, out: Map<string, number> = new Map()): Map<string, number> {
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 2) continue;
    const six = f[0].indexOf('6');
    if (six < 0) continue;
    const v = Number(f[1]);
    if (Number.isFinite(v)) out.set(`${f[0].slice(0, six + 1)}_${f[0].slice(six + 1)}`, v);
  }
  return out;
}

export function netstatCollector(fields: RegExp = DEFAULT_NETSTAT_FIELDS): NodeCollector {
  return {
    name: 'netstat',
    async collect(env, sink) {
      const p = env.paths.proc;
      const read = (f: string) => readFirst([join(p, '1/net', f), join(p, 'net', f)], env.signal);
      const all = new Map<string, number>();
      parseNetstatPairs(await read('netstat'), all);
      parseNetstatPairs(await read('snmp'), all);
      // snmp6 is absent when IPv6 is disabled: skip silently, as node_exporter does.
      const six = await read('snmp6').catch(() => undefined);
      if (six !== undefined) parseSnmp6(six, all);
      for (const [k, v] of all) {
        if (!fields.test(k)) continue;
        const name = `node_netstat_${k}`;
        const [proto, field] = [k.slice(0, k.indexOf('_')), k.slice(k.indexOf('_') + 1)];
        sink.family(name, 'untyped', `Statistic ${proto}${field}.`);
        sink.add(name, {}, v);
      }
    },
  };
}
