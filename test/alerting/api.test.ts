/**
 * `/api/v1/rules`, `/api/v1/alerts`, `/api/v1/alerts/history`, `POST /-/reload` and the
 * silences API through Fastify's inject().
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { labelsFromObject } from '../../shared/index.js';
import { Engine, engineQueryFunc, parseExpr } from '../../collector/promql/index.js';
import { MemoryStorage } from '../../collector/storage/index.js';
import { silencesApiPlugin } from '../../collector/notifier/api.js';
import { Notifier } from '../../collector/notifier/notifier.js';
import { rulesApiPlugin } from '../../collector/rules/api.js';
import { AlertHistory } from '../../collector/rules/history.js';
import { RuleManager } from '../../collector/rules/manager.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);
const dir = mkdtempSync(join(tmpdir(), 'kp-api-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function setup() {
  const storage = new MemoryStorage();
  for (let t = T0 - 5 * MIN; t <= T0 + 10 * MIN; t += 15_000) {
    storage.add(labelsFromObject({ __name__: 'up', job: 'node', instance: 'a' }), t, 0);
    storage.add(labelsFromObject({ __name__: 'up', job: 'node', instance: 'b' }), t, 1);
  }
  const file = join(dir, 'r.yml');
  writeFileSync(
    file,
    `groups:
- name: g
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
  - alert: InstanceDown
    expr: up == 0
    for: 1m
    labels: {severity: page}
    annotations: {summary: "{{ $labels.instance }} down"}
`,
  );
  const history = new AlertHistory({ db: ':memory:' });
  const clock = { now: T0 };
  const mgr = new RuleManager({
    query: engineQueryFunc(new Engine(), storage),
    appendable: storage,
    validate: (e) => void parseExpr(e),
    history,
    now: () => clock.now,
  });
  mgr.applyConfig({ evaluationIntervalMs: MIN, ruleFiles: [file] });
  for (let t = T0 + MIN; t <= T0 + 3 * MIN; t += MIN) await mgr.evaluateDue(t);
  const notifier = new Notifier({ config: {}, db: ':memory:', now: () => clock.now });
  let reloads = 0;
  const app = Fastify();
  await app.register(rulesApiPlugin, {
    manager: mgr,
    history,
    reload: () => {
      reloads++;
      mgr.reload();
    },
  });
  await app.register(silencesApiPlugin, { notifier, now: () => clock.now });
  return { app, file, reloads: () => reloads, notifier, history };
}

describe('rules and alerts API', () => {
  it('answers in Prometheus shapes', async () => {
    const { app, notifier, history, file } = await setup();
    const rules = (await app.inject('/api/v1/rules')).json();
    expect(rules.status).toBe('success');
    const g = rules.data.groups[0];
    expect(g).toMatchObject({ name: 'g', file, interval: 60, limit: 0, lastEvaluation: '2026-01-01T00:03:00.000Z' });
    expect(g.rules.map((r: { type: string; name: string; health: string }) => [r.type, r.name, r.health])).toEqual([
      ['recording', 'job:up:sum', 'ok'],
      ['alerting', 'InstanceDown', 'ok'],
    ]);
    expect(g.rules[1]).toMatchObject({ state: 'firing', query: 'up == 0', duration: 60, keepFiringFor: 0, labels: { severity: 'page' } });
    expect(g.rules[1].alerts[0]).toEqual({
      labels: { alertname: 'InstanceDown', instance: 'a', job: 'node', severity: 'page' },
      annotations: { summary: 'a down' },
      state: 'firing',
      activeAt: '2026-01-01T00:01:00.000Z',
      value: '0e+00',
    });
    const onlyRecord = (await app.inject('/api/v1/rules?type=record')).json();
    expect(onlyRecord.data.groups[0].rules).toHaveLength(1);
    const bad = await app.inject('/api/v1/rules?type=x');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ status: 'error', errorType: 'bad_data' });
    const alerts = (await app.inject('/api/v1/alerts')).json();
    expect(alerts.data.alerts.map((a: { labels: { instance: string } }) => a.labels.instance)).toEqual(['a']);
    await notifier.close();
    history.close();
  });

  it('serves the alert history with filters and paging', async () => {
    const { app, notifier, history } = await setup();
    const h = (await app.inject('/api/v1/alerts/history?match[]=' + encodeURIComponent('{instance="a"}'))).json();
    expect(h.data.episodes).toHaveLength(1);
    expect(h.data.episodes[0]).toMatchObject({ rule: 'InstanceDown', state: 'firing', pendingAt: '2026-01-01T00:01:00.000Z', firedAt: '2026-01-01T00:02:00.000Z', resolvedAt: null, firstValue: 0 });
    expect((await app.inject('/api/v1/alerts/history?match[]=' + encodeURIComponent('{instance="b"}'))).json().data.episodes).toHaveLength(0);
    expect((await app.inject('/api/v1/alerts/history?state=resolved')).json().data.episodes).toHaveLength(0);
    expect((await app.inject('/api/v1/alerts/history?end=1')).json().data.episodes).toHaveLength(0);
    expect((await app.inject('/api/v1/alerts/history?state=bogus')).statusCode).toBe(400);
    await notifier.close();
    history.close();
  });

  it('POST /-/reload reloads, and answers 500 keeping the old rules on a broken file', async () => {
    const { app, file, reloads, notifier, history } = await setup();
    expect((await app.inject({ method: 'POST', url: '/-/reload' })).statusCode).toBe(200);
    writeFileSync(file, 'groups:\n- name: g\n  rules:\n  - alert: X\n    expr: up ==\n');
    const r = await app.inject({ method: 'POST', url: '/-/reload' });
    expect(r.statusCode).toBe(500);
    expect(r.body).toMatch(/r\.yml:5:11: group "g", rule 1, "X": could not parse expression/);
    expect(reloads()).toBe(2);
    expect((await app.inject('/api/v1/rules')).json().data.groups[0].rules).toHaveLength(2);
    await notifier.close();
    history.close();
  });
});

describe('silences API', () => {
  it('creates, lists, gets and expires silences; refuses bad ones', async () => {
    const { app, notifier, history } = await setup();
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/silences',
      payload: { matchers: ['alertname="InstanceDown"', { name: 'instance', value: 'a|b', isRegex: true }], endsAt: '2026-01-01T02:00:00Z', createdBy: 'me', comment: 'maintenance' },
    });
    expect(created.statusCode).toBe(200);
    const id = created.json().data.silenceID as string;
    const list = (await app.inject('/api/v1/silences')).json().data;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id, createdBy: 'me', status: { state: 'active' }, startsAt: '2026-01-01T00:00:00.000Z', endsAt: '2026-01-01T02:00:00.000Z' });
    expect(notifier.silences.mutedBy({ alertname: 'InstanceDown', instance: 'b' }, T0 + MIN)).toEqual([id]);
    expect((await app.inject({ method: 'DELETE', url: `/api/v1/silences/${id}` })).statusCode).toBe(200);
    expect((await app.inject(`/api/v1/silences/${id}`)).json().data.status.state).toBe('expired');
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/silences/nope' })).statusCode).toBe(404);
    const bad = await app.inject({ method: 'POST', url: '/api/v1/silences', payload: { matchers: [], endsAt: '2026-01-01T02:00:00Z' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/at least one matcher/);
    const past = await app.inject({ method: 'POST', url: '/api/v1/silences', payload: { matchers: ['a="b"'], startsAt: '2025-01-01T00:00:00Z', endsAt: '2025-01-02T00:00:00Z' } });
    expect(past.json().error).toMatch(/in the past/);
    await notifier.close();
    history.close();
  });
});
