/**
 * node_exporter's filesystem collector: the host's mount table (`<proc>/1/mountinfo`)
 * filtered by node_exporter's default fs-type and mount-point exclusions, and one statfs
 * per mount. A statfs that does not return within `statfsTimeoutMs` (a hung NFS server)
 * gives `node_filesystem_device_error{device_error="mountpoint timeout"} 1` and is not
 * retried while it is still pending, so a hung mount holds at most one libuv thread and
 * never stalls the tick.
 */
import { statfs as fsStatfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeCollector } from './read.js';
import { isAbsent, readText } from './read.js';

/** node_exporter's default `--collector.filesystem.mount-points-exclude` (upstream, not Debian's). */
export const DEFAULT_MOUNT_POINTS_EXCLUDE = /^\/(dev|proc|run\/credentials\/.+|sys|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;
/** node_exporter's default `--collector.filesystem.fs-types-exclude`. */
export const DEFAULT_FS_TYPES_EXCLUDE =
  /^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$/;

export interface MountInfo {
  major: string;
  minor: string;
  mountPoint: string;
  fsType: string;
  device: string;
  readOnly: boolean;
}

/** Undoes the kernel's octal escapes in mountinfo paths (`\040` space, `\011` tab, `\134` backslash, …). */
export function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Parses `/proc/<pid>/mountinfo` (proc(5)): fields, optional fields, `-`, fstype, source, super options. */
export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (f.length < 10 || dash < 0 || dash + 3 > f.length) throw new Error(`malformed mountinfo line: ${JSON.stringify(line.slice(0, 120))}`);
    const [major, minor] = f[2].split(':');
    const opts = f[5].split(',');
    const superOpts = (f[dash + 3] ?? '').split(',');
    out.push({
      major,
      minor,
      mountPoint: unescapeMountPath(f[4]),
      fsType: f[dash + 1],
      device: unescapeMountPath(f[dash + 2]),
      readOnly: opts.includes('ro') || superOpts.includes('ro'),
    });
  }
  return out;
}

/** What statfs(2) gives us, in Node's field names. */
export interface StatfsResult {
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
}

export type StatfsFn = (path: string) => Promise<StatfsResult>;

export interface FilesystemOptions {
  mountPointsExclude?: RegExp;
  fsTypesExclude?: RegExp;
  /** How long one statfs may take (node_exporter's `--collector.filesystem.mount-timeout`, 5 s). */
  statfsTimeoutMs?: number;
  /** The statfs to call; tests substitute a hanging one. */
  statfs?: StatfsFn;
}

const TIMEOUT = Symbol('timeout');

/** Go's strerror text for a Node fs error: `EACCES: permission denied, statfs '/x'` → `permission denied`. */
function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const m = /^[A-Z0-9]+: ([^,]+)/.exec(msg);
  return m ? m[1] : msg;
}

const FAMILIES: ReadonlyArray<readonly [string, keyof StatfsResult | 'size' | 'free' | 'avail', string]> = [
  ['node_filesystem_size_bytes', 'size', 'Filesystem size in bytes.'],
  ['node_filesystem_free_bytes', 'free', 'Filesystem free space in bytes.'],
  ['node_filesystem_avail_bytes', 'avail', 'Filesystem space available to non-root users in bytes.'],
  ['node_filesystem_files', 'files', 'Filesystem total file nodes.'],
  ['node_filesystem_files_free', 'ffree', 'Filesystem total free file nodes.'],
];

export function filesystemCollector(opts: FilesystemOptions = {}): NodeCollector {
  const mpExclude = opts.mountPointsExclude ?? DEFAULT_MOUNT_POINTS_EXCLUDE;
  const fsExclude = opts.fsTypesExclude ?? DEFAULT_FS_TYPES_EXCLUDE;
  const timeoutMs = opts.statfsTimeoutMs ?? 5000;
  const statfs: StatfsFn = opts.statfs ?? ((p) => fsStatfs(p));
  /** statfs calls that timed out and have not returned yet, by host path. */
  const stuck = new Map<string, Promise<unknown>>();

  const statWithTimeout = async (path: string): Promise<StatfsResult | typeof TIMEOUT> => {
    if (stuck.has(path)) return TIMEOUT;
    const call = statfs(path);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<typeof TIMEOUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMEOUT), timeoutMs);
      timer.unref();
    });
    try {
      const r = await Promise.race([call, timeout]);
      if (r === TIMEOUT) {
        const settled = call.then(
          () => undefined,
          () => undefined,
        );
        stuck.set(path, settled);
        void settled.then(() => stuck.delete(path));
      }
      return r;
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    name: 'filesystem',
    async collect(env, sink) {
      const root = env.paths.root;
      let mounts: MountInfo[];
      let fromSelf = false;
      try {
        mounts = parseMountinfo(await readText(join(env.paths.proc, '1/mountinfo'), env.signal));
      } catch (err) {
        if (!isAbsent(err)) throw err;
        mounts = parseMountinfo(await readText(join(env.paths.proc, 'self/mountinfo'), env.signal));
        fromSelf = true;
      }
      const seen = new Set<string>();
      const todo: Array<MountInfo & { hostPath: string }> = [];
      for (const m of mounts) {
        let mp = m.mountPoint;
        // Our own mount table shows host mounts under the host root; pid 1's shows them as the host does.
        if (fromSelf && root !== '/') {
          if (mp !== root && !mp.startsWith(`${root}/`)) continue;
          mp = mp.slice(root.length) || '/';
        }
        if (mpExclude.test(mp) || fsExclude.test(m.fsType)) continue;
        const key = `${m.device}\0${mp}\0${m.fsType}`;
        if (seen.has(key)) continue;
        seen.add(key);
        todo.push({ ...m, mountPoint: mp, hostPath: mp === '/' ? root : join(root, mp) });
      }
      const results = await Promise.all(
        todo.map(async (m) => {
          try {
            return await statWithTimeout(m.hostPath);
          } catch (err) {
            return err instanceof Error ? err : new Error(String(err));
          }
        }),
      );
      for (const f of ['node_filesystem_device_error', 'node_filesystem_readonly', 'node_filesystem_mount_info', ...FAMILIES.map((x) => x[0])]) {
        sink.family(f, 'gauge', HELP[f] ?? FAMILIES.find((x) => x[0] === f)?.[2] ?? f);
      }
      for (const [i, m] of todo.entries()) {
        const r = results[i];
        const labels = { device: m.device, fstype: m.fsType, mountpoint: m.mountPoint };
        sink.add('node_filesystem_mount_info', { device: m.device, major: m.major, minor: m.minor, mountpoint: m.mountPoint }, 1);
        sink.add('node_filesystem_readonly', labels, m.readOnly ? 1 : 0);
        if (r === TIMEOUT || r instanceof Error) {
          const deviceError = r === TIMEOUT ? 'mountpoint timeout' : errorText(r);
          sink.add('node_filesystem_device_error', { ...labels, device_error: deviceError }, 1);
          continue;
        }
        sink.add('node_filesystem_device_error', labels, 0);
        const values = { size: r.blocks * r.bsize, free: r.bfree * r.bsize, avail: r.bavail * r.bsize, files: r.files, ffree: r.ffree } as const;
        for (const [name, key] of FAMILIES) sink.add(name, labels, values[key as keyof typeof values]);
      }
    },
  };
}

const HELP: Record<string, string> = {
  node_filesystem_device_error: 'Whether an error occurred while getting statistics for the given device.',
  node_filesystem_readonly: 'Filesystem read-only status.',
  node_filesystem_mount_info: 'Filesystem mount information.',
};
