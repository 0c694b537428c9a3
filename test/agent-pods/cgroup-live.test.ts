/**
 * Host mode on this machine's real cgroups: container series for the cgroups that
 * exist, and CPU seconds that grow while a child process burns CPU inside a cgroup the
 * test creates (or, where it may not create one, inside the test process's own cgroup).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CgroupSource, detectCgroupLayout, type CgroupLayout } from '../../agent/sources/cgroup/index.js';
import { RecordingContext, RecordingSink } from './helpers.js';

const ROOT = '/sys/fs/cgroup';
const available = (() => {
  try {
    detectCgroupLayout(ROOT);
    return true;
  } catch {
    return false;
  }
})();

/** This process's cgroup path in the hierarchy that carries CPU usage. */
function ownCpuCgroup(layout: CgroupLayout): string {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  for (const line of lines) {
    const [, ctl, path] = line.split(':');
    if (layout.version === 2 ? ctl === '' : ctl.split(',').includes('cpuacct')) return path;
  }
  throw new Error('no cpu cgroup in /proc/self/cgroup');
}

/** Dirs to create for a test cgroup: one per hierarchy that reports CPU or memory. */
function hierarchyDirs(layout: CgroupLayout): string[] {
  return layout.version === 2 ? [layout.unified!] : [...new Set([layout.cpu, layout.cpuacct, layout.memory].filter((d): d is string => !!d))];
}

describe.skipIf(!available)('host mode on this machine', () => {
  const layout = available ? detectCgroupLayout(ROOT) : undefined!;
  const name = `kubepulse-test-${process.pid}`;
  const created: string[] = [];
  let child: ChildProcess | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    for (const d of created.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // A cgroup with a zombie still attached refuses rmdir for a moment; it is empty and harmless.
      }
    }
  });

  it('emits series for the real cgroups, the root included', () => {
    const sink = new RecordingSink();
    const ctx = new RecordingContext();
    new CgroupSource({ root: ROOT, mode: 'host' }).collect(sink, ctx);
    expect(ctx.errors).toEqual([]);
    const root = sink.get('container_cpu_usage_seconds_total', { container: '/', cpu: 'total' });
    expect(root).toBeGreaterThan(0);
    expect(sink.get('container_memory_usage_bytes', { container: '/' })).toBeGreaterThan(0);
    // The cgroup this test runs in (memory controller on v1) is a container too.
    const mine = readFileSync('/proc/self/cgroup', 'utf8').split('\n').map((l) => l.split(':')).find((f) => (layout.version === 2 ? f[1] === '' : f[1]?.split(',').includes('memory')))?.[2];
    if (mine && mine !== '/') expect(sink.get('container_memory_usage_bytes', { container: mine })).toBeGreaterThan(0);
  });

  it('sees CPU seconds grow while a child burns CPU in a cgroup', async () => {
    let target: string;
    try {
      for (const h of hierarchyDirs(layout)) {
        const d = join(h, name);
        mkdirSync(d);
        created.push(d);
      }
      target = `/${name}`;
    } catch (err) {
      // NOTE: without permission to create cgroups, measure the test's own cgroup instead.
      console.warn(`cannot create a cgroup (${(err as Error).message}); using this process's own cgroup`);
      target = ownCpuCgroup(layout);
    }
    child = spawn(process.execPath, ['-e', 'const end = Date.now() + 20000; while (Date.now() < end) {}'], { stdio: 'ignore' });
    await new Promise((r) => child!.once('spawn', r));
    if (target === `/${name}`) for (const d of created) writeFileSync(join(d, 'cgroup.procs'), String(child.pid));

    const src = new CgroupSource({ root: ROOT, mode: 'host' });
    const cpu = () => {
      const sink = new RecordingSink();
      src.collect(sink, new RecordingContext());
      return sink.get('container_cpu_usage_seconds_total', { container: target, cpu: 'total' });
    };
    const first = cpu();
    expect(first).toBeDefined();
    // Bounded wait: at most 4 s for the child to use 0.2 s of CPU.
    let last = first!;
    for (let i = 0; i < 40 && last - first! < 0.2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      last = cpu()!;
    }
    expect(last - first!).toBeGreaterThanOrEqual(0.2);
    if (target === `/${name}` && layout.memory) {
      const sink = new RecordingSink();
      src.collect(sink, new RecordingContext());
      expect(sink.get('container_memory_usage_bytes', { container: target })).toBeGreaterThan(0);
    }
  });
});
