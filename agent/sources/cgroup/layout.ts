/**
 * Where the cgroup files are: a cgroup v2 unified tree, or v1 controller hierarchies
 * (`cpu`, `cpuacct` — possibly co-mounted as `cpu,cpuacct` — and `memory`), optionally
 * with a v2 `unified` mount beside them (hybrid: PSI only).
 */
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { KubepulseError } from '../../../shared/index.js';

export interface CgroupLayout {
  readonly version: 1 | 2;
  readonly root: string;
  /** v2: the unified root. */
  readonly unified?: string;
  /** v1 controller directories (absent when not mounted). */
  readonly cpu?: string;
  readonly cpuacct?: string;
  readonly memory?: string;
  /** v1 hybrid: the cgroup2 mount that carries `*.pressure` files. */
  readonly psi?: string;
}

/** Thrown when `root` holds neither a v2 tree nor v1 cpu/memory hierarchies. */
export class CgroupLayoutError extends KubepulseError {
  constructor(message: string) {
    super('KP_ERR_CGROUP_LAYOUT', message);
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Detects the layout under `root` (`/sys/fs/cgroup`, or `/host/sys/fs/cgroup` in the
 * DaemonSet). `version` forces one when auto-detection would be wrong.
 */
export function detectCgroupLayout(root: string, version: 'auto' | 'v1' | 'v2' = 'auto'): CgroupLayout {
  if (!isDir(root)) throw new CgroupLayoutError(`cgroup root ${root} is not a directory; set --cgroup-root to where cgroupfs is mounted`);
  if (version === 'v2' || (version === 'auto' && existsSync(join(root, 'cgroup.controllers')))) {
    return { version: 2, root, unified: root };
  }
  const found: { cpu?: string; cpuacct?: string; memory?: string } = {};
  let psi: string | undefined;
  for (const name of readdirSync(root).sort()) {
    const p = join(root, name);
    if (!isDir(p)) continue;
    if (name === 'unified' && existsSync(join(p, 'cgroup.controllers'))) {
      psi = p;
      continue;
    }
    // `cpu,cpuacct` holds both; a `cpu` symlink to it is equally good, the first wins.
    for (const ctl of name.split(',')) {
      if ((ctl === 'cpu' || ctl === 'cpuacct' || ctl === 'memory') && !found[ctl]) found[ctl] = p;
    }
  }
  if (!found.cpu && !found.cpuacct && !found.memory) {
    throw new CgroupLayoutError(`no cgroup hierarchy under ${root}: expected cgroup.controllers (cgroup v2) or cpu/cpuacct/memory controller directories (cgroup v1)`);
  }
  return { version: 1, root, ...found, psi };
}

/** The directories to enumerate cgroups in: every hierarchy the source reads. */
export function hierarchies(l: CgroupLayout): string[] {
  if (l.version === 2) return [l.unified ?? l.root];
  return [...new Set([l.cpu, l.cpuacct, l.memory].filter((d): d is string => d !== undefined))];
}
