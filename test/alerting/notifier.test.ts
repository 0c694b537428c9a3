/**
 * Routing, grouping, muting, the webhook body and its delivery options, driven on a fake
 * clock against a real HTTP receiver.
 */
import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../collector/notifier/alert.js';
import { buildAlertingConfig, type RawAlertingConfig } from '../../collector/notifier/config.js';
import { needsUpdate } from '../../collector/notifier/dispatcher.js';
import { Notifier } from '../../collector/notifier/notifier.js';
import { ConfigError } from '../../shared/index.js';
import { TestReceiver } from './receiver.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
let rx: TestReceiver;
let notifiers: Notifier[] = [];

beforeEach(async () => {
  rx = await new TestReceiver().start();
});
afterEach(async () => {
  for (const n of notifiers) await n.close();
  notifiers = [];
  await rx.stop();
});

function alert(labels: Record<string, string>, startsAt = T0, endsAt = T0 + 4 * 60_000, annotations: Record<string, string> = {}): Alert {
  return { labels, annotations, startsAt, endsAt, generatorURL: 'http://kp/graph?g0.expr=up' };
}

function mk(cfg: RawAlertingConfig, clock: { now: number }): Notifier {
  const n = new Notifier({ config: cfg, db: ':memory:', now: () => clock.now, backoffBaseMs: 100, backoffMaxMs: 1000, random: () => 0 });
  notifiers.push(n);
  return n;
}

describe('routing and grouping', () => {
  it('routes by matchers with continue, groups by labels, and builds groupKey as Alertmanager does', async () => {
    const clock = { now: T0 };
    const n = mk(
      {
        route: {
          receiver: 'default',
          group_by: ['alertname'],
          group_wait: '30s',
          group_interval: '5m',
          routes: [
            { matchers: ['severity="critical"'], receiver: 'pager', continue: true },
            { match_re: { namespace: 'kube-.*' }, receiver: 'ops', group_by: ['...'] },
          ],
        },
        receivers: [
          { name: 'default', webhook_configs: [{ url: `${rx.url}/default` }] },
          { name: 'pager', webhook_configs: [{ url: `${rx.url}/pager` }] },
          { name: 'ops', webhook_configs: [{ url: `${rx.url}/ops` }] },
        ],
        external_url: 'http://kubepulse:9190',
      },
      clock,
    );
    n.send([
      alert({ alertname: 'A', severity: 'critical', namespace: 'kube-system', pod: 'p1' }),
      alert({ alertname: 'A', severity: 'critical', namespace: 'kube-system', pod: 'p2' }),
      alert({ alertname: 'B', severity: 'warning', namespace: 'default' }),
    ]);
    await n.tick(T0 + 29_000);
    expect(rx.received).toHaveLength(0); // group_wait
    clock.now = T0 + 30_000;
    await n.tick(clock.now);
    const byPath = rx.received.map((r) => [r.path, (r.json as { groupKey: string }).groupKey, (r.json as { alerts: unknown[] }).alerts.length]);
    expect(byPath.sort()).toEqual(
      [
        ['/default', '{}:{alertname="B"}', 1],
        ['/ops', '{}/{namespace=~"kube-.*"}:{alertname="A", namespace="kube-system", pod="p1", severity="critical"}', 1],
        ['/ops', '{}/{namespace=~"kube-.*"}:{alertname="A", namespace="kube-system", pod="p2", severity="critical"}', 1],
        ['/pager', '{}/{severity="critical"}:{alertname="A"}', 2],
      ].sort(),
    );
    const pager = rx.received.find((r) => r.path === '/pager')!;
    expect(pager.body).toBe(
      JSON.stringify({
        receiver: 'pager',
        status: 'firing',
        alerts: ['p1', 'p2'].map((pod) => ({
          status: 'firing',
          labels: { alertname: 'A', namespace: 'kube-system', pod, severity: 'critical' },
          annotations: {},
          startsAt: '2026-01-01T12:00:00Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://kp/graph?g0.expr=up',
          fingerprint: pager.json && (pager.json as { alerts: Array<{ fingerprint: string }> }).alerts[pod === 'p1' ? 0 : 1].fingerprint,
        })),
        groupLabels: { alertname: 'A' },
        commonLabels: { alertname: 'A', namespace: 'kube-system', severity: 'critical' },
        commonAnnotations: {},
        externalURL: 'http://kubepulse:9190',
        version: '4',
        groupKey: '{}/{severity="critical"}:{alertname="A"}',
        truncatedAlerts: 0,
      }),
    );
  });

  it('waits group_interval for changes, repeat_interval for repeats, and sends the resolution', async () => {
    const clock = { now: T0 };
    const n = mk(
      {
        route: { receiver: 'r', group_by: ['alertname'], group_wait: '10s', group_interval: '1m', repeat_interval: '10m' },
        receivers: [{ name: 'r', webhook_configs: [{ url: rx.url }] }],
      },
      clock,
    );
    const a1 = alert({ alertname: 'A', i: '1' }, T0, T0 + 3_600_000);
    n.send([a1]);
    await n.tick(T0 + 10_000);
    expect(rx.received).toHaveLength(1);
    n.send([alert({ alertname: 'A', i: '2' }, T0 + 20_000, T0 + 3_600_000)]);
    await n.tick(T0 + 40_000); // before group_interval
    expect(rx.received).toHaveLength(1);
    await n.tick(T0 + 70_000);
    expect(rx.received).toHaveLength(2);
    expect((rx.received[1].json as { alerts: unknown[] }).alerts).toHaveLength(2);
    await n.tick(T0 + 130_000); // nothing changed, repeat not due
    expect(rx.received).toHaveLength(2);
    await n.tick(T0 + 70_000 + 10 * 60_000 + 60_000);
    expect(rx.received).toHaveLength(3);
    // Resolve both.
    const tr = T0 + 20 * 60_000;
    n.send([{ ...a1, endsAt: tr }, alert({ alertname: 'A', i: '2' }, T0 + 20_000, tr)]);
    await n.tick(tr + 60_000);
    const last = rx.received.at(-1)!.json as { status: string; alerts: Array<{ status: string; endsAt: string }> };
    expect(last.status).toBe('resolved');
    expect(last.alerts.map((a) => a.endsAt)).toEqual(['2026-01-01T12:20:00Z', '2026-01-01T12:20:00Z']);
    expect(n.groups()).toHaveLength(0);
  });

  it('send_resolved: false drops resolved alerts, max_alerts truncates', async () => {
    const clock = { now: T0 };
    const n = mk(
      {
        route: { receiver: 'r', group_wait: '0s', group_interval: '1m' },
        receivers: [{ name: 'r', webhook_configs: [{ url: rx.url, send_resolved: false, max_alerts: 2 }] }],
      },
      clock,
    );
    n.send([1, 2, 3].map((i) => alert({ alertname: 'A', i: String(i) }, T0, T0 + 3_600_000)));
    await n.tick(T0);
    const m = rx.received[0].json as { alerts: Array<{ labels: { i: string } }>; truncatedAlerts: number };
    expect(m.alerts.map((a) => a.labels.i)).toEqual(['1', '2']);
    expect(m.truncatedAlerts).toBe(1);
    n.send([1, 2, 3].map((i) => alert({ alertname: 'A', i: String(i) }, T0, T0 + 1000)));
    await n.tick(T0 + 120_000);
    expect(rx.received).toHaveLength(1);
  });

  it('applies silences and inhibition', async () => {
    const clock = { now: T0 };
    const n = mk(
      {
        route: { receiver: 'r', group_by: ['...'], group_wait: '0s' },
        receivers: [{ name: 'r', webhook_configs: [{ url: rx.url }] }],
        inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['alertname', 'namespace'] }],
      },
      clock,
    );
    n.silences.put({ matchers: [{ name: 'team', value: 'db', isRegex: false, isEqual: true }], endsAt: T0 + 3_600_000 }, T0);
    n.send([
      alert({ alertname: 'Disk', severity: 'critical', namespace: 'a' }),
      alert({ alertname: 'Disk', severity: 'warning', namespace: 'a' }), // inhibited
      alert({ alertname: 'Disk', severity: 'warning', namespace: 'b' }), // other namespace: not inhibited
      alert({ alertname: 'Db', team: 'db' }), // silenced
    ]);
    await n.tick(T0);
    const got = rx.received.map((r) => (r.json as { alerts: Array<{ labels: Record<string, string> }> }).alerts[0].labels);
    expect(got.map((l) => `${l.alertname}/${l.severity ?? ''}/${l.namespace ?? ''}`).sort()).toEqual(['Disk/critical/a', 'Disk/warning/b']);
    const view = n.alerts();
    expect(view.find((v) => v.alert.labels.team === 'db')!.silencedBy).toHaveLength(1);
    expect(view.find((v) => v.alert.labels.namespace === 'a' && v.alert.labels.severity === 'warning')!.inhibitedBy).toHaveLength(1);
  });
});

describe('delivery options', () => {
  it('sends bearer auth, extra headers, a notification id and an HMAC-SHA256 signature of the body', async () => {
    const clock = { now: T0 };
    const n = mk(
      {
        route: { receiver: 'r', group_wait: '0s' },
        receivers: [
          {
            name: 'r',
            webhook_configs: [
              { url: rx.url, http_config: { authorization: { credentials: 's3cret' } }, headers: { 'X-Team': 'sre' }, signature: { secret: 'shared' } },
              { url: rx.url + '/basic', http_config: { basic_auth: { username: 'u', password: 'p' } } },
            ],
          },
        ],
      },
      clock,
    );
    n.send([alert({ alertname: 'A' })]);
    await n.tick(T0);
    expect(rx.received).toHaveLength(2);
    const a = rx.received.find((r) => r.path === '/')!;
    expect(a.headers.authorization).toBe('Bearer s3cret');
    expect(a.headers['x-team']).toBe('sre');
    expect(a.headers['x-kubepulse-notification-id']).toMatch(/^\d+$/);
    expect(a.headers['x-kubepulse-signature']).toBe('sha256=' + createHmac('sha256', 'shared').update(a.body).digest('hex'));
    const b = rx.received.find((r) => r.path === '/basic')!;
    expect(b.headers.authorization).toBe('Basic ' + Buffer.from('u:p').toString('base64'));
  });

  it('refuses bad configs with every problem and its path', () => {
    let err: unknown;
    try {
      buildAlertingConfig({
        route: { receiver: 'nope', group_wait: 'soon', routes: [{ matchers: ['a=~"("'] }] },
        receivers: [{ name: 'r', webhook_configs: [{ url: 'ftp://x', max_alerts: -1 }] }],
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const p = (err as ConfigError).problems.join('\n');
    expect(p).toMatch(/alerting\.receivers\[0\]\.webhook_configs\[0\]\.url: scheme must be http or https/);
    expect(p).toMatch(/alerting\.receivers\[0\]\.webhook_configs\[0\]\.max_alerts/);
    expect(p).toMatch(/alerting\.route\.receiver: undefined receiver "nope"/);
    expect(p).toMatch(/alerting\.route\.group_wait: not a valid duration string: "soon"/);
    expect(p).toMatch(/alerting\.route\.routes\[0\]\.matchers\[0\]: invalid regular expression/);
  });

  it('needsUpdate follows Alertmanager DedupStage', () => {
    const s = (...x: string[]) => new Set(x);
    expect(needsUpdate(undefined, s(), s('a'), true, 1000, 0)).toBe(false);
    expect(needsUpdate(undefined, s('a'), s(), true, 1000, 0)).toBe(true);
    const e = { firing: s('a'), resolved: s(), t: 0 };
    expect(needsUpdate(e, s('a'), s(), true, 1000, 500)).toBe(false);
    expect(needsUpdate(e, s('a', 'b'), s(), true, 1000, 500)).toBe(true);
    expect(needsUpdate(e, s(), s('a'), false, 1000, 500)).toBe(true);
    expect(needsUpdate(e, s('a'), s('c'), true, 1000, 500)).toBe(true);
    expect(needsUpdate(e, s('a'), s('c'), false, 1000, 500)).toBe(false);
    expect(needsUpdate(e, s('a'), s(), true, 1000, 1001)).toBe(true);
  });
});
