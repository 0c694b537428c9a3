/**
 * The assembled component on real timers: a series crosses a threshold and the webhook
 * arrives within evaluation interval + group_wait + 2 s; the config schema fragment
 * accepts the defaults and a pasted Alertmanager config, and refuses typos.
 */
import { Ajv } from 'ajv';
import { afterEach, describe, expect, it } from 'vitest';
import { labelsFromObject, parseDuration } from '../../shared/index.js';
import { Engine, engineQueryFunc, parseExpr } from '../../collector/promql/index.js';
import { MemoryStorage } from '../../collector/storage/index.js';
import { Alerting, ALERTING_CONFIG_DEFAULTS, ALERTING_CONFIG_PROPERTIES, type AlertingSectionConfig } from '../../collector/alerting/index.js';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestReceiver } from './receiver.js';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

describe('alerting end to end on real timers', () => {
  it('a threshold crossing reaches the webhook within evaluation_interval + group_wait + 2 s', async () => {
    const rx = await new TestReceiver().start();
    stops.push(() => rx.stop());
    const dir = mkdtempSync(join(tmpdir(), 'kp-alerting-'));
    stops.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'rules.yml'), 'groups:\n- name: g\n  rules:\n  - alert: Hot\n    expr: temperature > 50\n    annotations: {summary: "{{ $value }} degrees"}\n');
    const storage = new MemoryStorage();
    const cfg: AlertingSectionConfig = {
      ...ALERTING_CONFIG_DEFAULTS,
      evaluation_interval: '1s',
      rule_files: ['rules.yml'],
      external_labels: { cluster: 'lab' },
      alerting: { route: { receiver: 'r', group_wait: '0s' }, receivers: [{ name: 'r', webhook_configs: [{ url: rx.url }] }] },
      default_rules: { enabled: false },
    };
    const a = new Alerting({ config: cfg, configDir: dir, query: engineQueryFunc(new Engine(), storage), validate: (e) => void parseExpr(e), appendable: storage, dbPath: ':memory:' });
    stops.push(() => a.stop());
    await a.start();
    const ls = labelsFromObject({ __name__: 'temperature', room: 'server' });
    storage.add(ls, Date.now() - 1000, 20);
    await new Promise((r) => setTimeout(r, 1200));
    expect(rx.received).toHaveLength(0);
    const crossed = Date.now();
    storage.add(ls, crossed, 80);
    await rx.waitFor(1, 5000);
    const latency = Date.now() - crossed;
    expect(rx.received).toHaveLength(1);
    expect(latency).toBeLessThan(parseDuration(cfg.evaluation_interval) + 0 + 2000);
    const body = rx.received[0].json as { alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string> }> };
    expect(body.alerts[0].labels).toEqual({ alertname: 'Hot', cluster: 'lab', room: 'server' });
    expect(body.alerts[0].annotations.summary).toBe('80 degrees');
    // The delivery is in the history once the notifier has read the answer.
    for (let i = 0; i < 100 && !a.history.query({}).episodes[0].notifications.length; i++) await new Promise((r) => setTimeout(r, 20));
    const ep = a.history.query({}).episodes[0];
    expect(ep.notifications.map((n) => [n.receiver, n.code])).toEqual([['r', 200]]);
  });
});

describe('Alerting.applyConfig', () => {
  it('applies receivers and rules together, or nothing when any part is bad', async () => {
    const storage = new MemoryStorage();
    const base: AlertingSectionConfig = {
      ...ALERTING_CONFIG_DEFAULTS,
      alerting: { route: { receiver: 'a' }, receivers: [{ name: 'a', webhook_configs: [{ url: 'http://127.0.0.1:1/a' }] }] },
    };
    const a = new Alerting({ config: base, query: engineQueryFunc(new Engine(), storage), validate: (e) => void parseExpr(e), appendable: storage, dbPath: ':memory:' });
    stops.push(() => a.stop());
    const defaults = a.rules.alertingRules().length;
    expect(defaults).toBeGreaterThan(10);
    // A bad route: refused with its path, rules untouched.
    expect(() => a.applyConfig({ ...base, default_rules: { enabled: false }, alerting: { route: { receiver: 'missing' }, receivers: [] } })).toThrow(/alerting\.route\.receiver: undefined receiver "missing"/);
    expect(a.rules.alertingRules()).toHaveLength(defaults);
    // A typo in a switch: refused, nothing changes.
    expect(() => a.applyConfig({ ...base, default_rules: { rules: { NoSuchRule: false } } })).toThrow(/NoSuchRule/);
    expect(a.rules.alertingRules()).toHaveLength(defaults);
    // A good one applies.
    a.applyConfig({ ...base, default_rules: { rules: { KubePodCrashLooping: false } } });
    expect(a.rules.alertingRules()).toHaveLength(defaults - 1);
  });
});

describe('config schema fragment', () => {
  const ajv = new Ajv({ allErrors: true, strict: true });
  ajv.addFormat('duration', { type: 'string', validate: (s: string) => /^(\d+(ms|[smhdwy]))+$|^0$/.test(s) });
  ajv.addFormat('url', { type: 'string', validate: (s: string) => URL.canParse(s) });
  const validate = ajv.compile({ type: 'object', additionalProperties: false, properties: ALERTING_CONFIG_PROPERTIES });

  it('accepts the defaults and a pasted Alertmanager route', () => {
    expect(validate(ALERTING_CONFIG_DEFAULTS)).toBe(true);
    const pasted = {
      ...ALERTING_CONFIG_DEFAULTS,
      alerting: {
        route: {
          receiver: 'default',
          group_by: ['alertname', 'cluster'],
          routes: [{ match: { severity: 'critical' }, receiver: 'pager', continue: true, routes: [{ matchers: ['team="db"'], receiver: 'db' }] }],
        },
        receivers: [
          { name: 'default', webhook_configs: [{ url: 'http://hooks.example/a', send_resolved: false, max_alerts: 10, http_config: { bearer_token: 'x' } }] },
          { name: 'pager' },
          { name: 'db', webhook_configs: [{ url: 'https://db.example/hook', signature: { secret: 's' }, timeout: '5s' }] },
        ],
        inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['alertname', 'namespace'] }],
        alertmanagers: ['http://alertmanager:9093', { url: 'http://am2:9093', timeout: '10s' }],
      },
      default_rules: { rules: { KubePodCrashLooping: false } },
    };
    expect(validate(pasted), JSON.stringify(validate.errors)).toBe(true);
  });

  it('refuses typos', () => {
    expect(validate({ alerting: { route: { reciever: 'x' } } })).toBe(false);
    expect(validate({ default_rules: { rules: { KubePodCrashLoopin: false } } })).toBe(false);
    expect(validate({ evaluation_interval: 'often' })).toBe(false);
  });
});
