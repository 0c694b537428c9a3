/**
 * The rules engine over the real PromQL engine and MemoryStorage, on a fake clock:
 * recording rules written back, ALERTS/ALERTS_FOR_STATE written, alerts reaching a
 * webhook with templated annotations, history kept in SQLite, `for` state restored after
 * a restart, and a broken reload keeping the old rules.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStaleNaN, labelsFromObject, labelsToString, type Labels } from '../../shared/index.js';
import type { Appendable } from '../../collector/storage/index.js';
import { Engine, engineQueryFunc, parseExpr } from '../../collector/promql/index.js';
import { MemoryStorage } from '../../collector/storage/index.js';
import { Notifier } from '../../collector/notifier/notifier.js';
import { AlertHistory } from '../../collector/rules/history.js';
import { RuleManager } from '../../collector/rules/manager.js';
import { RuleLoadError } from '../../collector/rules/rule-file.js';
import { TestReceiver } from './receiver.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const dir = mkdtempSync(join(tmpdir(), 'kp-rules-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RULES = `
groups:
  - name: node
    interval: 1m
    rules:
      - record: instance:load:avg
        expr: avg by (instance) (node_load1)
      - alert: HighLoad
        expr: instance:load:avg > 2
        for: 3m
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.instance }} load is {{ $value | printf \\"%.1f\\" }} in {{ $externalLabels.cluster }}"
`;

let rx: TestReceiver;
beforeEach(async () => {
  rx = await new TestReceiver().start();
});
afterEach(async () => {
  await rx.stop();
});

/** Records stale markers on their way into the store (the marker's NaN bits are checked here). */
function staleSpy(storage: MemoryStorage): { appendable: Appendable; stale: string[] } {
  const stale: string[] = [];
  return {
    stale,
    appendable: {
      appender() {
        const app = storage.appender();
        return {
          append(l: Labels, t: number, v: number) {
            if (isStaleNaN(v)) stale.push(`${labelsToString(l)}@${(t - T0) / MIN}m`);
            app.append(l, t, v);
          },
          updateMetadata: (m) => app.updateMetadata(m),
          commit: () => app.commit(),
          rollback: () => app.rollback(),
        };
      },
    },
  };
}

function setup(storage: MemoryStorage, historyDb: string, clock: { now: number }) {
  const spy = staleSpy(storage);
  const engine = new Engine();
  const notifier = new Notifier({
    config: { route: { receiver: 'r', group_wait: '0s', group_interval: '1m' }, receivers: [{ name: 'r', webhook_configs: [{ url: rx.url }] }] },
    db: ':memory:',
    now: () => clock.now,
  });
  const history = new AlertHistory({ db: historyDb, externalLabels: { cluster: 'prod' } });
  const registry = new Registry();
  const mgr = new RuleManager({
    query: engineQueryFunc(engine, storage),
    appendable: spy.appendable,
    notify: notifier.send,
    validate: (e) => void parseExpr(e),
    history,
    externalURL: 'http://kubepulse:9190',
    now: () => clock.now,
    registry,
    forGracePeriodMs: MIN,
  });
  const file = join(dir, 'rules.yml');
  writeFileSync(file, RULES);
  mgr.applyConfig({ evaluationIntervalMs: MIN, ruleFiles: [file], externalLabels: { cluster: 'prod' } });
  return { engine, notifier, history, mgr, file, registry, stale: spy.stale };
}

function load(storage: MemoryStorage, from: number, to: number, value: (t: number) => number) {
  for (let t = from; t <= to; t += 15_000) storage.add(labelsFromObject({ __name__: 'node_load1', instance: 'n1', job: 'node' }), t, value(t));
}

describe('rules end to end', () => {
  it('records, alerts through pending → firing → resolved, notifies and keeps the history', async () => {
    const storage = new MemoryStorage();
    const clock = { now: T0 };
    const { engine, notifier, history, mgr, registry, stale } = setup(storage, ':memory:', clock);
    load(storage, T0 - 5 * MIN, T0 + 20 * MIN, (t) => (t >= T0 + MIN && t < T0 + 10 * MIN ? 5 : 1));
    const states: string[] = [];
    for (let t = T0 + MIN; t <= T0 + 12 * MIN; t += MIN) {
      clock.now = t;
      await mgr.evaluateDue(t);
      await notifier.tick(t);
      states.push(mgr.alertingRules()[0].alerts()[0]?.state ?? '-');
    }
    expect(states).toEqual(['pending', 'pending', 'pending', 'firing', 'firing', 'firing', 'firing', 'firing', 'firing', 'inactive', 'inactive', 'inactive']);
    // The recording rule's series and ALERTS are in the store.
    const q = engineQueryFunc(engine, storage);
    expect((await q('instance:load:avg', T0 + 5 * MIN)).map((s) => s.v)).toEqual([5]);
    const alerts = await q('ALERTS{alertstate="firing"}', T0 + 5 * MIN);
    expect(alerts.map((s) => Object.fromEntries(s.labels.map((l) => [l.name, l.value])))).toEqual([
      { __name__: 'ALERTS', alertname: 'HighLoad', alertstate: 'firing', instance: 'n1', severity: 'warning' },
    ]);
    expect((await q('ALERTS_FOR_STATE', T0 + 5 * MIN))[0].v).toBe((T0 + MIN) / 1000);
    // Stale markers end the pending series when it fires and the firing one when resolved.
    expect(stale).toEqual([
      'ALERTS{alertname="HighLoad", alertstate="pending", instance="n1", severity="warning"}@4m',
      'ALERTS{alertname="HighLoad", alertstate="firing", instance="n1", severity="warning"}@10m',
      'ALERTS_FOR_STATE{alertname="HighLoad", instance="n1", severity="warning"}@10m',
    ]);
    // Webhook: firing then resolved.
    const msgs = rx.received.map((r) => r.json as { status: string; alerts: Array<{ annotations: Record<string, string>; labels: Record<string, string>; startsAt: string; generatorURL: string }> });
    expect(msgs.map((m) => m.status)).toEqual(['firing', 'resolved']);
    expect(msgs[0].alerts[0].annotations.summary).toBe('n1 load is 5.0 in prod');
    expect(msgs[0].alerts[0].labels).toEqual({ alertname: 'HighLoad', cluster: 'prod', instance: 'n1', severity: 'warning' });
    expect(msgs[0].alerts[0].startsAt).toBe(new Date(T0 + 4 * MIN).toISOString().replace('.000Z', 'Z'));
    expect(msgs[0].alerts[0].generatorURL).toBe('http://kubepulse:9190/graph?g0.expr=instance%3Aload%3Aavg%20%3E%202&g0.tab=1');
    // History: one episode with times and values.
    const { episodes } = history.query({});
    expect(episodes).toHaveLength(1);
    expect(episodes[0]).toMatchObject({ state: 'resolved', pendingAt: T0 + MIN, firedAt: T0 + 4 * MIN, resolvedAt: T0 + 10 * MIN, firstValue: 5, peakValue: 5 });
    expect(await registry.metrics()).toMatch(/kubepulse_rules_group_evaluations_total\{rule_group=".*rules.yml;node"\} 12/);
    await notifier.close();
    history.close();
  });

  it('restores the for state from the history after a restart', async () => {
    const storage = new MemoryStorage();
    const db = join(dir, 'history.db');
    load(storage, T0 - 5 * MIN, T0 + 30 * MIN, () => 5);
    const clock = { now: T0 };
    let s = setup(storage, db, clock);
    for (const t of [T0 + MIN, T0 + 2 * MIN]) {
      clock.now = t;
      await s.mgr.evaluateDue(t);
    }
    expect(s.mgr.alertingRules()[0].alerts()[0].state).toBe('pending');
    await s.notifier.close();
    s.history.close();
    // Down from 2m to 10m; pending for 1m before: 2m remain (more than the 1m grace period),
    // so the downtime is not counted and it fires at 12m, not at 10m.
    s = setup(storage, db, clock);
    const got: string[] = [];
    for (const t of [T0 + 10 * MIN, T0 + 11 * MIN, T0 + 12 * MIN]) {
      clock.now = t;
      await s.mgr.evaluateDue(t);
      got.push(s.mgr.alertingRules()[0].alerts()[0].state);
    }
    expect(got).toEqual(['pending', 'pending', 'firing']);
    expect(s.history.query({}).episodes).toHaveLength(1);
    expect(s.history.query({}).episodes[0]).toMatchObject({ state: 'firing', pendingAt: T0 + 9 * MIN, firedAt: T0 + 12 * MIN });
    await s.notifier.close();
    s.history.close();
    // Restarted once more after the load went away: the open episode is closed.
    storage.add(labelsFromObject({ __name__: 'node_load1', instance: 'n1', job: 'node' }), T0 + 40 * MIN, 0);
    s = setup(storage, db, clock);
    clock.now = T0 + 41 * MIN;
    await s.mgr.evaluateDue(T0 + 41 * MIN);
    expect(s.history.query({}).episodes[0]).toMatchObject({ state: 'resolved', resolvedAt: T0 + 41 * MIN });
    await s.notifier.close();
    s.history.close();
  });

  it('without a history, restores the for state from ALERTS_FOR_STATE in the store', async () => {
    const storage = new MemoryStorage();
    load(storage, T0 - 5 * MIN, T0 + 30 * MIN, () => 5);
    const file = join(dir, 'rules-nohist.yml');
    writeFileSync(file, RULES);
    const mk = (now: number) => {
      const m = new RuleManager({ query: engineQueryFunc(new Engine(), storage), appendable: storage, validate: (e) => void parseExpr(e), now: () => now, forGracePeriodMs: 0 });
      m.applyConfig({ evaluationIntervalMs: MIN, ruleFiles: [file] });
      return m;
    };
    let m = mk(T0);
    await m.evaluateDue(T0 + MIN);
    await m.evaluateDue(T0 + 2 * MIN);
    // Restarted a minute later: ALERTS_FOR_STATE says active since 1m, so `for: 3m` is met at 4m.
    m = mk(T0 + 3 * MIN);
    await m.evaluateDue(T0 + 4 * MIN);
    expect(m.alertingRules()[0].alerts()[0]).toMatchObject({ state: 'pending', activeAt: T0 + MIN });
    await m.evaluateDue(T0 + 5 * MIN);
    expect(m.alertingRules()[0].alerts()[0].state).toBe('firing');
  });

  it('reloads when a rule file changes', async () => {
    const storage = new MemoryStorage();
    const clock = { now: T0 };
    const s = setup(storage, ':memory:', clock);
    await s.mgr.start();
    try {
      writeFileSync(s.file, RULES.replace('instance:load:avg > 2', 'instance:load:avg > 7'));
      for (let i = 0; i < 100 && s.mgr.alertingRules()[0].expr !== 'instance:load:avg > 7'; i++) await new Promise((r) => setTimeout(r, 50));
      expect(s.mgr.alertingRules()[0].expr).toBe('instance:load:avg > 7');
    } finally {
      await s.mgr.stop();
      await s.notifier.close();
      s.history.close();
    }
  });

  it('keeps the running rules when a reload fails, picks up a good one', async () => {
    const storage = new MemoryStorage();
    const clock = { now: T0 };
    const s = setup(storage, ':memory:', clock);
    writeFileSync(s.file, RULES.replace('instance:load:avg > 2', 'instance:load:avg >'));
    expect(() => s.mgr.reload()).toThrow(RuleLoadError);
    expect(s.mgr.lastReload.ok).toBe(false);
    expect(s.mgr.alertingRules().map((r) => r.expr)).toEqual(['instance:load:avg > 2']);
    writeFileSync(s.file, RULES.replace('instance:load:avg > 2', 'instance:load:avg > 3'));
    s.mgr.reload();
    expect(s.mgr.alertingRules().map((r) => r.expr)).toEqual(['instance:load:avg > 3']);
    await s.notifier.close();
    s.history.close();
  });
});
