/**
 * The keep-open cgroup reader: same answers as open+read+close, one read per call,
 * descriptors released when a file is not read for a tick, and on this machine's real
 * cgroupfs fresh values from a kept descriptor and ENODEV handling for a removed cgroup.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectCgroupLayout, isCgroupFs, keepOpenReader, readCgroupFile } from '../../agent/sources/cgroup/index.js';

const openFds = () => readdirSync('/proc/self/fd').length;

describe('keepOpenReader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubepulse-open-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads what readCgroupFile reads, keeps the files open, and closes those not read for a tick', () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    writeFileSync(a, 'nr_periods 10\n');
    writeFileSync(b, 'max 100000\n');
    const read = keepOpenReader(10);
    const before = openFds();
    try {
      expect(read(a)).toBe(readCgroupFile(a));
      expect(read(b)).toBe('max 100000\n');
      expect(read(join(dir, 'missing'))).toBeUndefined();
      expect(openFds()).toBe(before + 2);
      read.endTick();
      // Rewritten in place (same inode, as the kernel regenerates a cgroup file): the kept descriptor sees it.
      writeFileSync(a, 'nr_periods 11\n');
      expect(read(a)).toBe('nr_periods 11\n');
      read.endTick();
      expect(openFds()).toBe(before + 1);
    } finally {
      read.close();
    }
    expect(openFds()).toBe(before);
  });

  it('past its budget reads the plain way, with the same answers', () => {
    const files = [0, 1, 2].map((i) => {
      const p = join(dir, `f${i}`);
      writeFileSync(p, `v ${i}\n`);
      return p;
    });
    const read = keepOpenReader(1);
    const before = openFds();
    try {
      expect(files.map((f) => read(f))).toEqual(['v 0\n', 'v 1\n', 'v 2\n']);
      expect(openFds()).toBe(before + 1);
    } finally {
      read.close();
    }
  });

  it('is used only on cgroupfs', () => {
    expect(isCgroupFs(dir)).toBe(false);
    expect(isCgroupFs(join(dir, 'nope'))).toBe(false);
  });
});

const layout = (() => {
  try {
    return detectCgroupLayout('/sys/fs/cgroup');
  } catch {
    return undefined;
  }
})();
const cpuDir = layout ? (layout.version === 2 ? layout.unified ?? layout.root : layout.cpuacct) : undefined;

describe.skipIf(!cpuDir)('keepOpenReader on this machine\'s cgroupfs', () => {
  it('a kept descriptor re-read at offset 0 gives the current value', () => {
    const file = layout!.version === 2 ? join(cpuDir!, 'cpu.stat') : join(cpuDir!, 'cpuacct.usage');
    expect(isCgroupFs(cpuDir!)).toBe(true);
    const usage = (text: string | undefined) => Number(layout!.version === 2 ? /usage_usec (\d+)/.exec(text ?? '')?.[1] : text);
    const read = keepOpenReader(4);
    try {
      const first = usage(read(file));
      let x = 0;
      const until = Date.now() + 50;
      while (Date.now() < until) x += Math.sqrt(x + 1);
      read.endTick();
      const second = usage(read(file));
      expect(first).toBeGreaterThan(0);
      expect(second).toBeGreaterThan(first);
    } finally {
      read.close();
    }
  });

  it('a cgroup removed after its file was kept reads as absent, and one recreated under the path is read afresh', () => {
    const dir = join(cpuDir!, `kubepulse-open-files-${process.pid}`);
    try {
      mkdirSync(dir);
    } catch {
      return; // Not allowed to create cgroups here (unprivileged): nothing to check.
    }
    const file = join(dir, layout!.version === 2 ? 'cpu.stat' : 'cpuacct.usage');
    const read = keepOpenReader(4);
    try {
      expect(read(file)).toBeDefined();
      rmdirSync(dir);
      expect(read(file)).toBeUndefined();
      mkdirSync(dir);
      expect(read(file)).toBe(readCgroupFile(file));
    } finally {
      read.close();
      try {
        rmdirSync(dir);
      } catch {
        // Already gone.
      }
    }
  });
});
