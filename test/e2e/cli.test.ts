/**
 * The two programs' command lines, run from `dist/` as a user runs them.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';

const run = (prog: 'agent' | 'collector', args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [join(REPO_ROOT, 'dist', prog, 'main.js'), ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } });

describe.each(['agent', 'collector'] as const)('kubepulse-%s command line', (prog) => {
  it('--help lists every flag with its default and environment variable', () => {
    const r = run(prog, ['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`usage: kubepulse-${prog}`);
    expect(r.stdout).toContain('--listen');
    expect(r.stdout).toMatch(new RegExp(`env: KUBEPULSE_${prog.toUpperCase()}_LISTEN`));
    if (prog === 'collector') expect(r.stdout).toMatch(/--data-dir <string>\n\s+directory of the SQLite store \(default \.\/data\)/);
    else expect(r.stdout).toMatch(/--interval <duration>\n\s+sampling interval \(default 10s\)/);
  });

  it('refuses an unknown flag and a bad value, naming both, with exit code 2', () => {
    const r = run(prog, ['--no-such-flag', '--listen', 'here']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown flag --no-such-flag');
    expect(r.stderr).toContain('key "listen": value "here" is invalid: expected a listen-address');
  });
});

describe('kubepulse-agent --once', () => {
  it('prints one tick of this machine in the Prometheus text format and exits', () => {
    const r = run('agent', ['--once', '--node-name', 'once-test', '--cluster', 'c1']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('# TYPE node_cpu_seconds_total counter');
    expect(r.stdout).toMatch(/^node_load1\{cluster="c1",instance="once-test",job="node-exporter",node="once-test"\} \d/m);
    expect(r.stdout).toMatch(/^node_memory_MemTotal_bytes\{.*\} \d+/m);
  });
});
