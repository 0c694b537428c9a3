/**
 * Crash safety: a child process ingests in a loop and is killed with SIGKILL at random
 * moments, several times. After each kill the store must open cleanly and hold every
 * sample whose commit had returned (the child prints `ack <i>` after `commit()`), bit
 * for bit. The child runs the TypeScript sources through `ts-register.mjs` (Node 20 has
 * no type stripping and tests have no build output).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { float64Bits } from '../../shared/index.js';
import { openTsdb, type Tsdb } from '../../collector/tsdb/index.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { crashOptions, crashSample, CRASH_SERIES } from './crash-plan.js';
import { rng, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir('kp-tsdb-crash-');
afterAll(cleanup);

/** Runs the child from iteration `start`, kills it `killAfterMs` after its first ack; returns the last ack. */
function runAndKill(start: number, killAfterMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', join(REPO_ROOT, 'test/tsdb/ts-register.mjs'), join(REPO_ROOT, 'test/tsdb/crash-child.ts'), dir, String(start)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let lastAck = start - 1;
    let buf = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('ack ')) {
          lastAck = Number(line.slice(4));
          timer ??= setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code ?? signal}: ${stderr}`));
      else resolve(lastAck);
    });
  });
}

function verify(db: Tsdb, upTo: number): void {
  const q = db.querier(-Infinity, Infinity);
  const got = q.select([{ type: '=', name: 'namespace', value: 'crash' }]);
  expect(got.length).toBe(CRASH_SERIES.length);
  const byPod = new Map(got.map((s) => [s.labels.find((l) => l.name === 'pod')?.value, s]));
  for (let s = 0; s < CRASH_SERIES.length; s++) {
    const series = byPod.get(`pod-${s}`);
    if (!series) throw new Error(`series pod-${s} missing`);
    // Iterations after the last ack may or may not have committed; none before may be missing.
    expect(series.t.length).toBeGreaterThanOrEqual(upTo + 1);
    for (let i = 0; i <= upTo; i++) {
      const want = crashSample(i, s);
      if (series.t[i] !== want.t || float64Bits(series.v[i]) !== float64Bits(want.v)) {
        throw new Error(`pod-${s} iteration ${i}: got ${series.t[i]}=${series.v[i]}, want ${want.t}=${want.v}`);
      }
    }
  }
}

describe('crash safety', () => {
  it('loses no acknowledged sample across repeated kill -9', async () => {
    const r = rng(2026);
    let next = 0;
    for (let round = 0; round < 5; round++) {
      const lastAck = await runAndKill(next, 100 + Math.floor(r() * 1200));
      expect(lastAck).toBeGreaterThanOrEqual(next);
      const started = performance.now();
      const db = openTsdb({ ...crashOptions(dir), maintenanceIntervalMs: 0 });
      const openMs = performance.now() - started;
      try {
        verify(db, lastAck);
      } finally {
        // Leave the files as the crash left them: the next child replays the same WAL.
        db.abandon();
      }
      expect(openMs).toBeLessThan(10_000);
      next = lastAck + 1;
    }
    // And a clean close after all that keeps everything too.
    const db = openTsdb({ ...crashOptions(dir), maintenanceIntervalMs: 0 });
    db.close();
    const again = openTsdb({ ...crashOptions(dir), maintenanceIntervalMs: 0 });
    try {
      verify(again, next - 1);
      expect(again.stats().walBytes).toBe(0);
    } finally {
      again.close();
    }
  }, 60_000);
});
