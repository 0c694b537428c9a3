/**
 * `npm start`'s entry point end to end: a collector with its store and a host-mode agent
 * on this machine. Node series show up on the collector's /metrics; Ctrl-C stops both
 * cleanly. The test command builds `dist/` before the tests run, so the build step of
 * the entry point is skipped here (KUBEPULSE_START_SKIP_BUILD=1); everything else is the
 * same code path a new user runs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, httpOk, startProcess, waitFor, type Proc } from '../helpers/procs.js';
import { promtoolCheckMetrics } from '../helpers/prometheus.js';
import { REPO_ROOT } from '../helpers/paths.js';

describe('npm start', () => {
  let proc: Proc | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'kp-start-'));
  afterAll(async () => {
    await proc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a collector and a host-mode agent; node series reach /metrics; Ctrl-C stops both', async () => {
    expect(existsSync(join(REPO_ROOT, 'dist', 'collector', 'main.js')), 'dist/ is built by the test command before the tests').toBe(true);
    const [cport, aport] = [await freePort(), await freePort()];
    proc = startProcess(process.execPath, [join(REPO_ROOT, 'scripts', 'start.mjs')], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        KUBEPULSE_START_COLLECTOR_PORT: String(cport),
        KUBEPULSE_START_AGENT_PORT: String(aport),
        KUBEPULSE_START_DATA_DIR: join(dir, 'data'),
        KUBEPULSE_START_INTERVAL: '1s',
        KUBEPULSE_START_SKIP_BUILD: '1',
      },
    });
    const collector = `http://127.0.0.1:${cport}`;
    await waitFor('the URLs to be printed', () => proc!.output().includes('kubepulse is running'), 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n--- output ---\n${proc!.output()}`);
    });
    expect(proc.output()).toContain(`${collector}/metrics`);

    const text = await waitFor('node series on the collector', async () => {
      const body = await httpOk(`${collector}/metrics`);
      return body && /\nnode_load1\{/.test(body) && body.includes('node_cpu_seconds_total{') ? body : undefined;
    }, 30_000, 250);
    const load = text.split('\n').find((l) => l.startsWith('node_load1{'))!;
    expect(load).toContain(`node="${hostname()}"`);
    expect(load).toContain('job="node-exporter"');
    expect(load).toMatch(/ \d+(\.\d+)? \d{13}$/);

    // The agent's own metrics count what it sent and pass promtool's linter.
    const agentMetrics = await waitFor('the agent to count sent samples', async () => {
      const body = await httpOk(`http://127.0.0.1:${aport}/metrics`);
      return body && /kubepulse_agent_samples_sent_total [1-9]/.test(body) ? body : undefined;
    }, 20_000, 250);
    const check = await promtoolCheckMetrics(agentMetrics);
    expect(check.problems).toEqual([]);
    expect(check.code).toBe(0);

    proc.child.kill('SIGINT');
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toContain('kubepulse: stopped');
    expect(await httpOk(`${collector}/-/healthy`)).toBeUndefined();
  }, 120_000);
});
