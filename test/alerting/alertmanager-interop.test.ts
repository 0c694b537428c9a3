/**
 * A real Alertmanager 0.25 (Debian `prometheus-alertmanager`) receives kubepulse's alerts
 * on its v2 API and forwards them by its own webhook; kubepulse sends its own webhook for
 * the same alerts with the same route. Both bodies must be equal, field for field.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../collector/notifier/alert.js';
import { Notifier } from '../../collector/notifier/notifier.js';
import { TestReceiver, freePort } from './receiver.js';

const EXTERNAL = 'http://alertmanager.example:9093';
const dir = mkdtempSync(join(tmpdir(), 'kp-am-'));
let am: ChildProcess | undefined;
let amUrl = '';
const rx = new TestReceiver();
let notifier: Notifier;

// group_wait 1s, not 0s: with 0s Alertmanager may flush a group as soon as the first
// alert of a POST lands, before the second joins it (a race seen under load), so its
// first body would hold one alert where ours holds both.
const route = { receiver: 'team', group_by: ['alertname', 'namespace'], group_wait: '1s', group_interval: '1s', repeat_interval: '1h' };

beforeAll(async () => {
  await rx.start();
  const port = await freePort();
  amUrl = `http://127.0.0.1:${port}`;
  const cfg = {
    route,
    receivers: [{ name: 'team', webhook_configs: [{ url: `${rx.url}/am`, send_resolved: true }] }],
  };
  writeFileSync(join(dir, 'am.yml'), YAML.stringify(cfg));
  am = spawn(
    'prometheus-alertmanager',
    [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', `--web.external-url=${EXTERNAL}`],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`${amUrl}/-/ready`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('alertmanager did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  notifier = new Notifier({
    config: {
      route,
      receivers: [{ name: 'team', webhook_configs: [{ url: `${rx.url}/kp`, send_resolved: true }] }],
      alertmanagers: [amUrl],
      external_url: EXTERNAL,
    },
    db: ':memory:',
  });
  await notifier.start();
});

afterAll(async () => {
  await notifier?.close();
  if (am && am.exitCode === null) {
    const exited = new Promise((r) => am!.once('exit', r));
    am.kill('SIGTERM');
    await exited;
  }
  await rx.stop();
  rmSync(dir, { recursive: true, force: true });
});

function bodies(path: string): Array<Record<string, unknown>> {
  return rx.received.filter((r) => r.path === path).map((r) => r.json as Record<string, unknown>);
}

async function waitBoth(n: number): Promise<void> {
  const end = Date.now() + 15_000;
  while ((bodies('/am').length < n || bodies('/kp').length < n) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

describe('Alertmanager 0.25 interop', () => {
  it('forwards labels, annotations and times intact, and the bodies are equal field for field', async () => {
    const startsAt = Date.now() - 61_234;
    const alerts: Alert[] = ['pod-a', 'pod-b'].map((pod) => ({
      labels: { alertname: 'KubePodCrashLooping', namespace: 'default', pod, severity: 'warning', job: 'kube-state-metrics', cluster: 'prod' },
      annotations: { summary: 'Pod is crash looping.', description: `Pod default/${pod} is in waiting state (reason: "CrashLoopBackOff").` },
      startsAt,
      endsAt: Date.now() + 4 * 60_000,
      generatorURL: 'http://kubepulse:9190/graph?g0.expr=up&g0.tab=1',
    }));
    notifier.send(alerts);
    await waitBoth(1);
    const [fromAm] = bodies('/am');
    const [fromKp] = bodies('/kp');
    expect(fromAm, JSON.stringify(rx.received.map((r) => r.path))).toBeDefined();
    expect(fromKp).toBeDefined();
    expect((fromAm.alerts as unknown[]).length, JSON.stringify(fromAm)).toBe(2);
    expect(Object.keys(fromKp)).toEqual(Object.keys(fromAm));
    const amAlerts = fromAm.alerts as Array<Record<string, unknown>>;
    expect(Object.keys((fromKp.alerts as object[])[0])).toEqual(Object.keys(amAlerts[0]));
    expect(amAlerts.map((a) => a.labels)).toEqual(alerts.map((a) => a.labels));
    expect(amAlerts.map((a) => a.annotations)).toEqual(alerts.map((a) => a.annotations));
    expect(amAlerts[0].startsAt).toBe(new Date(startsAt).toISOString().replace(/\.?0*Z$/, 'Z'));
    expect(amAlerts[0].endsAt).toBe('0001-01-01T00:00:00Z');
    // The same text, byte for byte: key order, groupKey, fingerprints, common labels.
    expect(JSON.stringify(fromKp)).toBe(JSON.stringify(fromAm));
  });

  it('sends the resolution with the end time set by the sender', async () => {
    const resolvedAt = Date.now() - 500;
    const prev = bodies('/am')[0].alerts as Array<{ labels: Record<string, string>; annotations: Record<string, string>; startsAt: string }>;
    notifier.send(
      prev.map((a) => ({ labels: a.labels, annotations: a.annotations, startsAt: Date.parse(a.startsAt), endsAt: resolvedAt, generatorURL: 'http://kubepulse:9190/graph?g0.expr=up&g0.tab=1' })),
    );
    await waitBoth(2);
    const fromAm = bodies('/am')[1];
    const fromKp = bodies('/kp')[1];
    expect(fromAm.status).toBe('resolved');
    expect((fromAm.alerts as Array<{ endsAt: string }>).map((a) => a.endsAt)).toEqual([0, 1].map(() => new Date(resolvedAt).toISOString().replace(/\.?0*Z$/, 'Z')));
    expect(JSON.stringify(fromKp)).toBe(JSON.stringify(fromAm));
  });
});
