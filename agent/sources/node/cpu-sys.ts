/**
 * The sysfs part of node_exporter's cpu collector: thermal throttle counters per core
 * and package, and the CPUs isolated from the scheduler (`isolcpus`). Both are absent on
 * most VMs, which is not an error.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeCollector } from './read.js';
import { parseNumber, readDirOptional, readOptional } from './read.js';

/** Expands a kernel CPU list (`1,3-5,9`) to CPU numbers. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`malformed CPU list: ${JSON.stringify(text.trim())}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new Error(`malformed CPU range: ${part}`);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

export const cpuSysCollector: NodeCollector = {
  name: 'cpu',
  async collect(env, sink) {
    const base = join(env.paths.sys, 'devices/system/cpu');
    const isolated = await readOptional(join(base, 'isolated'), env.signal);
    if (isolated !== undefined && isolated.trim() !== '') {
      sink.family('node_cpu_isolated', 'gauge', 'Whether each core is isolated, information from /sys/devices/system/cpu/isolated.');
      for (const c of parseCpuList(isolated)) sink.add('node_cpu_isolated', { cpu: String(c) }, 1);
    }
    const cpus = ((await readDirOptional(base)) ?? []).filter((e) => /^cpu\d+$/.test(e)).sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
    // VMs have no thermal_throttle: one stat instead of four failed reads per CPU per tick.
    if (cpus.length === 0 || !statSync(join(base, cpus[0], 'thermal_throttle'), { throwIfNoEntry: false })?.isDirectory()) return;
    const rows = await Promise.all(
      cpus.map(async (c) => {
        const [pkg, core, coreCount, pkgCount] = await Promise.all(
          ['topology/physical_package_id', 'topology/core_id', 'thermal_throttle/core_throttle_count', 'thermal_throttle/package_throttle_count'].map((f) =>
            readOptional(join(base, c, f), env.signal),
          ),
        );
        return { pkg: pkg?.trim(), core: core?.trim(), coreCount: parseNumber(coreCount), pkgCount: parseNumber(pkgCount) };
      }),
    );
    // Sibling hyperthreads share a core's counter and every core shares its package's: report each once.
    const seenCore = new Set<string>();
    const seenPkg = new Set<string>();
    for (const r of rows) {
      if (r.pkg === undefined || r.core === undefined) continue;
      if (r.coreCount !== undefined && !seenCore.has(`${r.pkg}/${r.core}`)) {
        seenCore.add(`${r.pkg}/${r.core}`);
        sink.family('node_cpu_core_throttles_total', 'counter', 'Number of times this CPU core has been throttled.');
        sink.add('node_cpu_core_throttles_total', { core: r.core, package: r.pkg }, r.coreCount);
      }
      if (r.pkgCount !== undefined && !seenPkg.has(r.pkg)) {
        seenPkg.add(r.pkg);
        sink.family('node_cpu_package_throttles_total', 'counter', 'Number of times this CPU package has been throttled.');
        sink.add('node_cpu_package_throttles_total', { package: r.pkg }, r.pkgCount);
      }
    }
  },
};
