/**
 * Reads one cgroup's numbers, at most one read per interface file, from a v1 or v2
 * layout. Units are normalised here: seconds for CPU time, bytes for memory,
 * microseconds kept for CFS quota/period (cAdvisor's `container_spec_cpu_*` units).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { CgroupLayout } from './layout.js';
import { V1_UNLIMITED, flatKeyedValue as kv, parseCpuMax, parsePressure, parseSingle, type PsiTotals } from './parse.js';

/**
 * Reads a whole file as text; undefined when it does not exist (a controller not enabled
 * for this cgroup, or the cgroup gone). Other errors throw.
 */
export type FileReader = (path: string) => string | undefined;

/** Shared read buffer (with the keep-open reader): every cgroup interface file this source reads is far below 64 KiB. */
export const CGROUP_READ_BUF = Buffer.allocUnsafe(64 * 1024);
const BUF = CGROUP_READ_BUF;

/** Opens a cgroup file for reading; undefined when it (or its cgroup) is gone. Other errors throw. */
export function openCgroupFile(path: string): number | undefined {
  try {
    return openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * The default reader. Synchronous on purpose: cgroupfs files are generated from kernel
 * memory without I/O, and open+read+close into a reused buffer costs a few µs where
 * `readFile` costs tens (and `readFileSync` adds an fstat), which matters at ~2,400
 * reads per tick on a full node.
 */
export const readCgroupFile: FileReader = (path) => {
  const fd = openCgroupFile(path);
  if (fd === undefined) return undefined;
  try {
    let n = readSync(fd, BUF, 0, BUF.length, 0);
    if (n < BUF.length) return BUF.toString('latin1', 0, n);
    // Larger than the buffer (never for the files read here): fall back to whole-file reads.
    const parts = [Buffer.from(BUF)];
    let pos = n;
    while ((n = readSync(fd, BUF, 0, BUF.length, pos)) > 0) {
      parts.push(Buffer.from(BUF.subarray(0, n)));
      pos += n;
    }
    return Buffer.concat(parts).toString('latin1');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The cgroup was removed between open and read.
    if (code === 'ENODEV' || code === 'ENOENT') return undefined;
    throw err;
  } finally {
    closeSync(fd);
  }
};

export interface CgroupStats {
  /** Cumulative CPU time, seconds. */
  cpuSeconds?: number;
  cfsPeriods?: number;
  cfsThrottledPeriods?: number;
  /** Cumulative throttled time, seconds. */
  cfsThrottledSeconds?: number;
  /** CFS quota, µs per period; undefined when unlimited. */
  cpuQuotaUs?: number;
  cpuPeriodUs?: number;
  memoryUsageBytes?: number;
  /** Limit in bytes; 0 when unlimited (cAdvisor's convention). */
  memoryLimitBytes?: number;
  memoryCacheBytes?: number;
  memoryRssBytes?: number;
  /** usage − inactive_file, floored at 0 (the kubelet's eviction signal). */
  memoryWorkingSetBytes?: number;
  oomKills?: number;
  psiCpu?: PsiTotals;
  psiMemory?: PsiTotals;
  psiIo?: PsiTotals;
}

/** Which groups of files to read: `usage` adds CPU time and memory usage (host mode). */
export interface ReadWhat {
  usage: boolean;
}

/** Reads the cgroup at `rel` (e.g. `/kubepods/burstable/pod…/…`); undefined fields were absent. */
export function readCgroupStats(layout: CgroupLayout, rel: string, read: FileReader, what: ReadWhat): CgroupStats {
  return layout.version === 2 ? readV2(under(layout.unified ?? layout.root, rel), read, what) : readV1(layout, rel, read, what);
}

/** `dir` + `rel` (`/a/b`), by concatenation: path.join showed up at 8 % of a tick's CPU. */
function under(dir: string, rel: string): string {
  return rel === '/' ? dir : dir + rel;
}

function readPsi(dir: string, read: FileReader, s: CgroupStats): void {
  const cpu = read(`${dir}/cpu.pressure`);
  if (cpu !== undefined) s.psiCpu = parsePressure(cpu);
  const mem = read(`${dir}/memory.pressure`);
  if (mem !== undefined) s.psiMemory = parsePressure(mem);
  const io = read(`${dir}/io.pressure`);
  if (io !== undefined) s.psiIo = parsePressure(io);
}

function workingSet(usage: number | undefined, inactiveFile: number | undefined): number | undefined {
  if (usage === undefined) return undefined;
  return Math.max(0, usage - (inactiveFile ?? 0));
}

function readV2(dir: string, read: FileReader, what: ReadWhat): CgroupStats {
  const s: CgroupStats = {};
  const cpuStat = read(`${dir}/cpu.stat`);
  if (cpuStat !== undefined) {
    if (what.usage) {
      const u = kv(cpuStat, 'usage_usec');
      if (u !== undefined) s.cpuSeconds = u / 1e6;
    }
    s.cfsPeriods = kv(cpuStat, 'nr_periods');
    s.cfsThrottledPeriods = kv(cpuStat, 'nr_throttled');
    const t = kv(cpuStat, 'throttled_usec');
    if (t !== undefined) s.cfsThrottledSeconds = t / 1e6;
  }
  const cpuMax = read(`${dir}/cpu.max`);
  if (cpuMax !== undefined) {
    const q = parseCpuMax(cpuMax);
    s.cpuQuotaUs = q?.quotaUs;
    s.cpuPeriodUs = q?.periodUs;
  }
  const memMax = read(`${dir}/memory.max`);
  if (memMax !== undefined) {
    const v = parseSingle(memMax);
    if (v !== undefined) s.memoryLimitBytes = v === Infinity ? 0 : v;
  }
  const events = read(`${dir}/memory.events`);
  if (events !== undefined) s.oomKills = kv(events, 'oom_kill');
  const stat = read(`${dir}/memory.stat`);
  if (stat !== undefined) {
    s.memoryCacheBytes = kv(stat, 'file');
    if (what.usage) s.memoryRssBytes = kv(stat, 'anon');
  }
  if (what.usage) {
    const cur = read(`${dir}/memory.current`);
    if (cur !== undefined) {
      s.memoryUsageBytes = parseSingle(cur);
      s.memoryWorkingSetBytes = workingSet(s.memoryUsageBytes, stat === undefined ? undefined : kv(stat, 'inactive_file'));
    }
  }
  readPsi(dir, read, s);
  return s;
}

function readV1(l: CgroupLayout, rel: string, read: FileReader, what: ReadWhat): CgroupStats {
  const s: CgroupStats = {};
  if (l.cpu) {
    const dir = under(l.cpu, rel);
    const cpuStat = read(`${dir}/cpu.stat`);
    if (cpuStat !== undefined) {
      s.cfsPeriods = kv(cpuStat, 'nr_periods');
      s.cfsThrottledPeriods = kv(cpuStat, 'nr_throttled');
      const t = kv(cpuStat, 'throttled_time');
      if (t !== undefined) s.cfsThrottledSeconds = t / 1e9;
    }
    const quota = read(`${dir}/cpu.cfs_quota_us`);
    const period = read(`${dir}/cpu.cfs_period_us`);
    const q = quota === undefined ? undefined : parseSingle(quota);
    if (q !== undefined && q > 0) s.cpuQuotaUs = q;
    const p = period === undefined ? undefined : parseSingle(period);
    if (p !== undefined && p > 0) s.cpuPeriodUs = p;
  }
  if (what.usage && l.cpuacct) {
    const usage = read(`${under(l.cpuacct, rel)}/cpuacct.usage`);
    const ns = usage === undefined ? undefined : parseSingle(usage);
    if (ns !== undefined) s.cpuSeconds = ns / 1e9;
  }
  if (l.memory) {
    const dir = under(l.memory, rel);
    const limit = read(`${dir}/memory.limit_in_bytes`);
    const lim = limit === undefined ? undefined : parseSingle(limit);
    if (lim !== undefined) s.memoryLimitBytes = lim >= V1_UNLIMITED ? 0 : lim;
    const oom = read(`${dir}/memory.oom_control`);
    if (oom !== undefined) s.oomKills = kv(oom, 'oom_kill');
    const st = read(`${dir}/memory.stat`);
    if (st !== undefined) {
      // total_* include descendants, as the usage counter does; plain keys on kernels without hierarchy.
      s.memoryCacheBytes = kv(st, 'total_cache') ?? kv(st, 'cache');
      if (what.usage) s.memoryRssBytes = kv(st, 'total_rss') ?? kv(st, 'rss');
    }
    if (what.usage) {
      const usage = read(`${dir}/memory.usage_in_bytes`);
      if (usage !== undefined) {
        s.memoryUsageBytes = parseSingle(usage);
        s.memoryWorkingSetBytes = workingSet(s.memoryUsageBytes, st === undefined ? undefined : kv(st, 'total_inactive_file') ?? kv(st, 'inactive_file'));
      }
    }
  }
  if (l.psi) readPsi(under(l.psi, rel), read, s);
  return s;
}
