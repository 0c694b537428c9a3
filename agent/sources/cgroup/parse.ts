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

/**
 * One key of a `key value` file, as {@link parseFlatKeyed} would give it, without
 * splitting the file or building a map: a tick reads ~1,200 such files for 2-3 keys each.
 */
export function flatKeyedValue(text: string, key: string): number | undefined {
  let at = text.lastIndexOf('\n' + key + ' ');
  if (at >= 0) at++;
  else if (text.startsWith(key + ' ')) at = 0;
  else return undefined;
  const start = at + key.length + 1;
  let end = text.indexOf('\n', start);
  if (end < 0) end = text.length;
  const v = Number(text.slice(start, end).trim());
  return Number.isFinite(v) ? v : undefined;
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
  const some = psiTotal(text, 'some');
  if (some !== undefined) out.some = some;
  const full = psiTotal(text, 'full');
  if (full !== undefined) out.full = full;
  return out;
}

/** `total=` of the last `<kind> …` line, scanned in place (no split, no regex). */
function psiTotal(text: string, kind: 'some' | 'full'): number | undefined {
  let at = text.lastIndexOf('\n' + kind + ' ');
  if (at >= 0) at++;
  else if (text.startsWith(kind + ' ')) at = 0;
  else return undefined;
  let end = text.indexOf('\n', at);
  if (end < 0) end = text.length;
  let t = text.indexOf('total=', at);
  while (t >= 0 && t < end && t > at && text.charCodeAt(t - 1) !== 0x20 && text.charCodeAt(t - 1) !== 0x09) t = text.indexOf('total=', t + 1);
  if (t < 0 || t >= end) return undefined;
  let d = t + 6;
  while (d < end && text.charCodeAt(d) >= 0x30 && text.charCodeAt(d) <= 0x39) d++;
  return d > t + 6 ? Number(text.slice(t + 6, d)) : undefined;
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
