/**
 * File access shared by the node collectors: where the host's /proc, /sys, root and
 * udev data live, and reads that tell "absent on this kernel" from real failures.
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { MetricSink } from '../source.js';

/** Absolute locations the collectors read, all derived from the host root by default. */
export interface NodePaths {
  /** The host's procfs (`<host-root>/proc`). */
  readonly proc: string;
  /** The host's sysfs (`<host-root>/sys`). */
  readonly sys: string;
  /** The host's root filesystem: mount points are resolved under it for statfs. */
  readonly root: string;
  /** udev's database (`<host-root>/run/udev/data`), for disk model/serial/path labels. */
  readonly udevData: string;
}

/** What one collector gets for one tick. */
export interface CollectorEnv {
  readonly paths: NodePaths;
  readonly signal: AbortSignal;
  /** The tick's timestamp, epoch ms. */
  readonly now: number;
  /** Counts a source error with a stable reason; never throws. */
  reportError(reason: string, err: unknown): void;
}

/** One node_exporter-style collector (`stat`, `meminfo`, …). */
export interface NodeCollector {
  /** node_exporter's collector name; also the prefix of this collector's error reasons. */
  readonly name: string;
  /** Reads and emits one tick's samples. A thrown error loses only this collector's tick. */
  collect(env: CollectorEnv, sink: MetricSink): Promise<void>;
}

/*
 * NOTE: /proc and /sys files are generated in memory by the kernel and answer in
 * microseconds, so they are read synchronously: fs.promises.readFile costs four thread-pool
 * round trips per file (open, fstat, read, close) and made a tick cost 2-3× the CPU of a
 * node_exporter scrape (test/bench/node.bench.ts). The one call that can block for long,
 * statfs on a network mount, stays asynchronous with a timeout (filesystem.ts). The
 * functions keep their async signatures so a slow source can move to a worker unchanged.
 */

/** Reads a whole text file; rejects on any error (missing, permission, aborted tick). */
export async function readText(path: string, signal: AbortSignal): Promise<string> {
  signal.throwIfAborted();
  return readFileSync(path, 'utf8');
}

/** Error codes meaning "this attribute does not exist or cannot be read on this device". */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'EINVAL', 'ENODEV', 'ENXIO', 'EOPNOTSUPP', 'EACCES', 'EPERM', 'EIO', 'EBUSY', 'EAGAIN']);

/**
 * Reads an optional attribute (a sysfs file that some drivers lack or refuse, e.g. the
 * `speed` of a link that is down): resolves `undefined` instead of rejecting for the
 * usual "absent" errors, and rethrows anything else (such as an abort).
 */
export async function readOptional(path: string, signal: AbortSignal): Promise<string | undefined> {
  signal.throwIfAborted();
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (isAbsent(err)) return undefined;
    throw err;
  }
}

/** Directory entries, or `undefined` when the directory is absent. */
export async function readDirOptional(path: string): Promise<string[] | undefined> {
  try {
    return readdirSync(path);
  } catch (err) {
    if (isAbsent(err)) return undefined;
    throw err;
  }
}

export function isAbsent(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ABSENT.has(code);
}

/**
 * Reads the first of `paths` that exists: used for `<proc>/1/net/dev` (the host's network
 * namespace when the agent runs in a pod) with `<proc>/net/dev` as the fallback.
 */
export async function readFirst(paths: readonly string[], signal: AbortSignal): Promise<string> {
  signal.throwIfAborted();
  let last: unknown;
  for (const p of paths) {
    try {
      return readFileSync(p, 'utf8');
    } catch (err) {
      last = err;
      if (!isAbsent(err)) throw err;
    }
  }
  throw last;
}

/** Parses a decimal integer or float file content; `undefined` when it is not a number. */
export function parseNumber(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const s = text.trim();
  if (s === '') return undefined;
  const v = Number(s);
  return Number.isFinite(v) ? v : undefined;
}

/** Emits one sample of a family with one help and type: a helper for single-value families. */
export function emitOne(sink: MetricSink, name: string, type: 'counter' | 'gauge' | 'untyped', help: string, labels: Readonly<Record<string, string>>, value: number): void {
  sink.family(name, type, help);
  sink.add(name, labels, value);
}
