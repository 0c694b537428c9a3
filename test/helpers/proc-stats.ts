/**
 * What the benchmarks read about a running process from /proc (Linux): memory
 * from `status` and `smaps`, CPU from `stat`; and the few series it reads from a
 * Prometheus text exposition.
 */
import { readFileSync } from 'node:fs';

/** Memory of one process, bytes, from /proc/<pid>/status. */
export interface ProcMemory {
  vmRss: number;
  rssAnon: number;
  rssFile: number;
  rssShmem: number;
  /** Peak RSS since the process started. */
  vmHwm: number;
}

/** Reads /proc/<pid>/status; throws when the process is gone. */
export function procMemory(pid: number): ProcMemory {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]) * 1024;
  };
  return { vmRss: kb('VmRSS'), rssAnon: kb('RssAnon'), rssFile: kb('RssFile'), rssShmem: kb('RssShmem'), vmHwm: kb('VmHWM') };
}

/** User + system CPU seconds of a process so far, from /proc/<pid>/stat (USER_HZ = 100). */
export function procCpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Resident bytes by mapping, from /proc/<pid>/smaps: file mappings by path (the node
 * binary, shared libraries, native addons), `[heap]` (malloc's brk area), `[stack]`,
 * and `(anonymous)` for the rest (V8's heap pages, malloc's mmap arenas, thread stacks).
 * Sorted by size, largest first.
 */
export function rssByMapping(pid: number): Array<{ mapping: string; bytes: number }> {
  const text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const by = new Map<string, number>();
  let current = '(anonymous)';
  for (const line of text.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      current = header[1] || '(anonymous)';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) by.set(current, (by.get(current) ?? 0) + Number(rss[1]) * 1024);
  }
  return [...by].map(([mapping, bytes]) => ({ mapping, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/**
 * Sum of the samples of `name` in a text exposition whose labels include every pair
 * of `match`; undefined when there is none. Enough for the agent's own /metrics.
 */
export function metricValue(text: string, name: string, match: Readonly<Record<string, string>> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    let labels = '';
    let value = rest.trim();
    if (rest[0] === '{') {
      const end = rest.lastIndexOf('}');
      labels = rest.slice(1, end);
      value = rest.slice(end + 1).trim();
    }
    if (!Object.entries(match).every(([k, v]) => labels.includes(`${k}="${v}"`))) continue;
    sum = (sum ?? 0) + Number(value.split(' ')[0]);
  }
  return sum;
}
