/**
 * The collector as main.ts wires it, with a config file as a user writes it: a rule file,
 * a route and a webhook receiver. Series pushed with remote_write (as an agent does)
 * cross a threshold; the Alertmanager-format webhook arrives within the evaluation
 * interval + group_wait + 2 s; a broken rule file on reload is refused and the running
 * rules stay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCollector, type Collector } from '../../collector/main.js';
import { loadCollectorConfig } from '../../collector/config.js';
import { encodeWriteRequestBody, labelsFromObject, noopLogger } from '../../shared/index.js';
import { TestReceiver } from '../alerting/receiver.js';

describe('collector alerting end to end', () => {
  let dir: string;
  let collector: Collector;
  const receiver = new TestReceiver();
  let configFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kp-alert-e2e-'));
    await receiver.start();
    writeFileSync(
      join(dir, 'rules.yaml'),
      `groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: NodeTooHot
        expr: node_temperature_celsius > 80
        labels: { severity: critical }
        annotations:
          summary: "{{ $labels.node }} is at {{ $value }} degrees"
`,
    );
    configFile = join(dir, 'collector.yaml');
    writeFileSync(
      configFile,
      `listen: 127.0.0.1:0
data_dir: ${join(dir, 'data')}
rule_files: [rules.yaml]
default_rules: { enabled: false }
alerting:
  route:
    receiver: hooks
    group_by: [alertname]
    group_wait: 0s
    group_interval: 1s
  receivers:
    - name: hooks
      webhook_configs:
        - url: ${receiver.url}/hook
          send_resolved: true
`,
    );
    const load = () => loadCollectorConfig(['--config', configFile], {}).config;
    collector = await startCollector(load(), noopLogger(), { configFile, reloadConfig: load });
  }, 60_000);

  afterAll(async () => {
    await collector?.stop();
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const push = async (v: number) => {
    const body = encodeWriteRequestBody({ timeseries: [{ labels: labelsFromObject({ __name__: 'node_temperature_celsius', node: 'n1', job: 'node-exporter' }), samples: [{ t: Date.now(), v }] }] });
    const r = await fetch(`${collector.url}/api/v1/write`, { method: 'POST', body, headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' } });
    expect(r.status).toBe(204);
  };

  it('sends the Alertmanager webhook once a pushed series crosses the threshold', async () => {
    await push(50);
    await new Promise((r) => setTimeout(r, 1200));
    expect(receiver.received).toHaveLength(0);
    const crossed = Date.now();
    await push(95);
    const got = await receiver.waitFor(1, 1000 + 0 + 2000 + 1000);
    const arrivedAfter = Date.now() - crossed;
    expect(got.length).toBeGreaterThan(0);
    expect(arrivedAfter).toBeLessThan(1000 + 2000 + 1000);
    const body = got[0].json as { version: string; status: string; receiver: string; groupKey: string; commonLabels: Record<string, string>; alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string>; fingerprint: string; startsAt: string }> };
    expect(got[0].path).toBe('/hook');
    expect(body.version).toBe('4');
    expect(body.status).toBe('firing');
    expect(body.receiver).toBe('hooks');
    expect(body.groupKey).toBe('{}:{alertname="NodeTooHot"}');
    expect(body.alerts[0].labels).toMatchObject({ alertname: 'NodeTooHot', node: 'n1', severity: 'critical' });
    expect(body.alerts[0].annotations.summary).toBe('n1 is at 95 degrees');
    expect(body.alerts[0].fingerprint).toMatch(/^[0-9a-f]{16}$/);

    const alerts = (await (await fetch(`${collector.url}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: Record<string, string>; state: string }> } };
    expect(alerts.data.alerts.map((a) => [a.labels.alertname, a.state])).toEqual([['NodeTooHot', 'firing']]);
  }, 20_000);

  it('refuses a broken rule file on reload, naming file and line, and keeps the running rules', async () => {
    writeFileSync(join(dir, 'rules.yaml'), 'groups:\n  - name: e2e\n    rules:\n      - alert: Broken\n        expr: rate(foo[5m]\n');
    const r = await fetch(`${collector.url}/-/reload`, { method: 'POST' });
    expect(r.status).toBeGreaterThanOrEqual(400);
    const text = await r.text();
    expect(text).toContain('rules.yaml:5');
    const rules = (await (await fetch(`${collector.url}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string }> }> } };
    expect(rules.data.groups.flatMap((g) => g.rules.map((x) => x.name))).toEqual(['NodeTooHot']);
  }, 20_000);
});
