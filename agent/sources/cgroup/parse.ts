/** Parsers for cgroup interface files. Each takes the file's text and never throws on odd content: unparsable fields are left out. */

/** `key value` lines (cpu.stat, memory.stat, memory.events, memory.oom_control). */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const v = Number(line.slice(sp + 1).trim());
    if (Number.isFinite(v)) out.set(line.slice(0, sp), v);
  }
  return out;
}

export interface PsiTotals {
  /** Cumulative `some` stall, microseconds. */
  some?: number;
  /** Cumulative `full` stall, microseconds. */
  full?: number;
}

/** A `*.pressure` file: `some avg10=… total=<µs>` and `full … total=<µs>`. */
export function parsePressure(text: string): PsiTotals {
  const out: PsiTotals = {};
  for (const line of text.split('\n')) {
    const kind = line.startsWith('some ') ? 'some' : line.startsWith('full ') ? 'full' : undefined;
    if (!kind) continue;
    const m = /\btotal=(\d+)/.exec(line);
    if (m) out[kind] = Number(m[1]);
  }
  return out;
}

export interface CpuMax {
  /** µs per period; undefined when unlimited (`max`). */
  quotaUs?: number;
  periodUs?: number;
}

/** v2 `cpu.max`: `<quota|max> [<period>]`. Undefined when malformed (zero period, extra fields, not numbers). */
export function parseCpuMax(text: string): CpuMax | undefined {
  const f = text.trim().split(/\s+/);
  if (f.length < 1 || f.length > 2 || f[0] === '') return undefined;
  const period = f.length === 2 ? Number(f[1]) : 100_000;
  if (!Number.isInteger(period) || period <= 0) return undefined;
  if (f[0] === 'max') return { periodUs: period };
  const quota = Number(f[0]);
  if (!Number.isInteger(quota) || quota <= 0) return undefined;
  return { quotaUs: quota, periodUs: period };
}

/** A single integer file (`cpu.cfs_quota_us`, `memory.limit_in_bytes`, `memory.current`); `max` gives Infinity. */
export function parseSingle(text: string): number | undefined {
  const t = text.trim();
  if (t === 'max') return Infinity;
  if (!/^-?\d+$/.test(t)) return undefined;
  return Number(t);
}

/**
 * v1 reports "no limit" as PAGE_COUNTER_MAX rounded to pages (9223372036854771712 on
 * 4 KiB pages); anything at or above 2^62 is unlimited, as cAdvisor treats it.
 */
export const V1_UNLIMITED = 2 ** 62;
