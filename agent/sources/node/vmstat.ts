/**
 * node_exporter's vmstat collector: the default fields of `/proc/vmstat` as `node_vmstat_<field>`.
 */
import { join } from 'node:path';
import type { NodeCollector } from './read.js';
import { emitOne, readText } from './read.js';

/** node_exporter's default `--collector.vmstat.fields`. */
export const DEFAULT_VMSTAT_FIELDS = /^(oom_kill|pgpg|pswp|pg.*fault).*/;

/** `/proc/vmstat` key/value pairs whose key matches `fields`. */
export function parseVmstat(text: string, fields: RegExp): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const key = line.slice(0, sp);
    if (!fields.test(key)) continue;
    const v = Number(line.slice(sp + 1));
    if (Number.isFinite(v)) out.push([key, v]);
  }
  return out;
}

export function vmstatCollector(fields: RegExp = DEFAULT_VMSTAT_FIELDS): NodeCollector {
  return {
    name: 'vmstat',
    async collect(env, sink) {
      for (const [k, v] of parseVmstat(await readText(join(env.paths.proc, 'vmstat'), env.signal), fields)) {
        emitOne(sink, `node_vmstat_${k}`, 'untyped', `/proc/vmstat information field ${k}.`, {}, v);
      }
    },
  };
}
