/**
 * A cgroup file reader that keeps files open between ticks. On cgroupfs every interface
 * file is generated on read, and a read at offset 0 regenerates it (the kernel's seq_file
 * restarts at position 0), so `pread(fd, 0)` on a kept descriptor returns what a fresh
 * open would. Measured on cgroup v1 here: 5.1 µs for open+read+close, 1.6 µs for the
 * pread; at ~2,400 files per tick on a full node that is ~8 ms of CPU per tick.
 *
 * Only for cgroupfs: on an ordinary filesystem a kept descriptor would go on reading a
 * file that was replaced or deleted. {@link isCgroupFs} tells.
 */
import { closeSync, readFileSync, readSync, statfsSync } from 'node:fs';
import { CGROUP_READ_BUF, openCgroupFile, readCgroupFile, type FileReader } from './read-stats.js';

/** A {@link FileReader} with per-tick upkeep: `endTick` closes files not read this tick. */
export interface KeptFileReader extends FileReader {
  endTick(): void;
}

const CGROUP_SUPER_MAGIC = 0x27e0eb;
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** True when `dir` is on cgroupfs (v1 or v2); false for anything else or when unknown. */
export function isCgroupFs(dir: string): boolean {
  try {
    const type = Number(statfsSync(dir).type);
    return type === CGROUP_SUPER_MAGIC || type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/**
 * How many descriptors the reader may keep: a quarter of the soft `RLIMIT_NOFILE`, at most
 * 8192, so sockets and everything else keep most of the budget. Past it, files are opened
 * and closed per read as before.
 */
export function defaultKeepOpenBudget(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    const soft = !m || m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
    return Math.min(8192, Math.floor(soft / 4));
  } catch {
    return 256;
  }
}

// One read buffer for both readers: reads never interleave (the source is synchronous).
const BUF = CGROUP_READ_BUF;

interface Kept {
  fd: number;
  tick: number;
}

/**
 * Creates a reader that keeps up to `maxOpen` files open. A kept file whose cgroup was
 * removed answers ENODEV: it is closed and the path opened afresh once (a cgroup
 * recreated under the same path, e.g. a restarted systemd unit in host mode); still
 * absent reads as undefined, like {@link readCgroupFile}. Every call is one read.
 */
export function keepOpenReader(maxOpen: number = defaultKeepOpenBudget()): KeptFileReader & { close(): void } {
  const kept = new Map<string, Kept>();
  let tick = 0;
  const readKept = (path: string, k: Kept): string | undefined => {
    k.tick = tick;
    try {
      const n = readSync(k.fd, BUF, 0, BUF.length, 0);
      if (n < BUF.length) return BUF.toString('latin1', 0, n);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENODEV' && code !== 'ENOENT') throw err;
    }
    // Gone, or (never for these files) larger than the buffer: drop it, read the plain way.
    kept.delete(path);
    closeQuietly(k.fd);
    return undefined;
  };
  const read = ((path: string): string | undefined => {
    const k = kept.get(path);
    if (k) {
      const text = readKept(path, k);
      if (text !== undefined) return text;
      return readCgroupFile(path);
    }
    if (kept.size >= maxOpen) return readCgroupFile(path);
    const fd = openCgroupFile(path);
    if (fd === undefined) return undefined;
    const entry = { fd, tick };
    kept.set(path, entry);
    const text = readKept(path, entry);
    return text !== undefined || kept.has(path) ? text : readCgroupFile(path);
  }) as KeptFileReader & { close(): void };
  // forEach, not for-of: no entry arrays to allocate for ~2,400 files a tick.
  const sweep = (k: Kept, path: string) => {
    if (k.tick !== tick) {
      kept.delete(path);
      closeQuietly(k.fd);
    }
  };
  read.endTick = () => {
    kept.forEach(sweep);
    tick++;
  };
  read.close = () => {
    for (const k of kept.values()) closeQuietly(k.fd);
    kept.clear();
  };
  return read;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed or never valid: nothing to release.
  }
}
