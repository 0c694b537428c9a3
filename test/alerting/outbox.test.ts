/**
 * The durable outbox: a receiver that is down, answers 500 or 429, or hangs gets the
 * notification once it is back, also when the notifier was stopped and a new one opened
 * the same SQLite file in between.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../collector/notifier/alert.js';
import type { RawAlertingConfig } from '../../collector/notifier/config.js';
import { Notifier, type DeliveryReport } from '../../collector/notifier/notifier.js';
import { TestReceiver, freePort, type Mode } from './receiver.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const dir = mkdtempSync(join(tmpdir(), 'kp-outbox-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

const firing: Alert = { labels: { alertname: 'NodeDown', node: 'n1' }, annotations: { summary: 'down' }, startsAt: T0, endsAt: T0 + 3_600_000, generatorURL: '' };

function cfg(url: string): RawAlertingConfig {
  return {
    route: { receiver: 'r', group_wait: '0s' },
    receivers: [{ name: 'r', webhook_configs: [{ url, timeout: '300ms' }] }],
  };
}

const clock = { now: T0 };

function open(db: string, url: string, reports: DeliveryReport[] = [], registry?: Registry): Notifier {
  const n = new Notifier({ config: cfg(url), db, now: () => clock.now, backoffBaseMs: 1000, backoffMaxMs: 8000, random: () => 0, onDelivery: (r) => reports.push(r), registry });
  cleanup.push(() => n.close());
  return n;
}

describe('outbox', () => {
  it.each<{ mode: Mode }>([{ mode: 'fail' }, { mode: 'tooMany' }, { mode: 'hang' }])('retries with backoff while the receiver answers $mode, delivers once back', async ({ mode }) => {
    clock.now = T0;
    const rx = await new TestReceiver().start();
    cleanup.push(() => rx.stop());
    rx.mode = mode;
    const reports: DeliveryReport[] = [];
    const registry = new Registry();
    const n = open(':memory:', rx.url, reports, registry);
    n.send([firing]);
    await n.tick(T0);
    expect(rx.received).toHaveLength(0);
    expect(n.store.length()).toBe(1);
    // Backoff: attempt 1 waits 0.5 s (half of base, no jitter), attempt 2 waits 1 s.
    const [row] = n.store.due(Infinity, 1);
    expect(row.attempts).toBe(1);
    expect(row.nextAttemptAt).toBe(T0 + 500);
    await n.tick(row.nextAttemptAt - 1); // not yet due
    expect(n.store.due(Infinity, 1)[0].attempts).toBe(1);
    clock.now = row.nextAttemptAt;
    await n.tick(row.nextAttemptAt);
    expect(n.store.due(Infinity, 1)[0].attempts).toBe(2);
    expect(n.store.due(Infinity, 1)[0].nextAttemptAt).toBe(T0 + 500 + 1000);
    rx.mode = 'ok';
    clock.now = n.store.due(Infinity, 1)[0].nextAttemptAt;
    await n.tick(clock.now);
    expect(rx.received).toHaveLength(1);
    expect(n.store.length()).toBe(0);
    expect(reports.map((r) => r.code)).toEqual(mode === 'hang' ? [0, 0, 200] : mode === 'fail' ? [500, 500, 200] : [429, 429, 200]);
    const text = await registry.metrics();
    expect(text).toMatch(/kubepulse_notifier_notifications_sent_total\{receiver="r"\} 1/);
    expect(text).toMatch(/kubepulse_notifier_notifications_retried_total\{receiver="r"\} 2/);
    expect(text).toMatch(/kubepulse_notifier_queue_length 0/);
  });

  it('does not retry a 4xx refusal', async () => {
    const port = await freePort();
    const n = open(':memory:', `http://127.0.0.1:${port}/`);
    const { createServer } = await import('node:http');
    const s = createServer((_q, r) => r.writeHead(400).end('bad')).listen(port, '127.0.0.1');
    cleanup.push(() => new Promise((r) => s.close(() => r())));
    await new Promise((r) => s.once('listening', r));
    n.send([firing]);
    await n.tick(T0);
    expect(n.store.length()).toBe(0);
  });

  it('survives a restart while the receiver is down', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/hook`;
    const db = join(dir, 'notifier.db');
    clock.now = T0;
    const first = open(db, url);
    first.send([firing]);
    await first.tick(T0); // connection refused
    expect(first.store.length()).toBe(1);
    await first.close();
    clock.now = T0 + 10_000;
    // A new process on the same file, the receiver back on its port.
    const rx = await new TestReceiver().start(port);
    cleanup.push(() => rx.stop());
    const second = open(db, url);
    expect(second.store.length()).toBe(1);
    await second.start(); // real timers: resumes at once for due rows
    await rx.waitFor(1, 5000);
    await second.stop();
    expect(rx.received).toHaveLength(1);
    const body = rx.received[0].json as { alerts: Array<{ labels: Record<string, string> }>; groupKey: string };
    expect(body.alerts[0].labels).toEqual({ alertname: 'NodeDown', node: 'n1' });
    expect(body.groupKey).toBe('{}:{}');
    expect(second.store.length()).toBe(0);
  });
});
