import { describe, expect, it } from 'vitest';
import { labelsFromObject } from '../../shared/index.js';
import { AlertingRule, RESOLVED_RETENTION_MS } from './alerting-rule.js';
import { alertSpec } from '../../test/alerting/rule-spec.js';

const MIN = 60_000;


const series = labelsFromObject({ __name__: 'load', instance: 'n1' });

interface Case {
  name: string;
  forMs: number;
  keepFiringForMs: number;
  /** One entry per evaluation, one minute apart: the value returned, or null for no result. */
  steps: Array<number | null>;
  /** Expected state after each evaluation ('-' when the alert is gone). */
  want: string[];
}

describe('alert state transitions', () => {
  it.each<Case>([
    { name: 'for 0 fires at once and resolves', forMs: 0, keepFiringForMs: 0, steps: [2, 2, null, null], want: ['firing', 'firing', 'inactive', 'inactive'] },
    { name: 'pending until for elapsed', forMs: 2 * MIN, keepFiringForMs: 0, steps: [2, 2, 2, 2], want: ['pending', 'pending', 'firing', 'firing'] },
    { name: 'pending dropped when condition clears', forMs: 2 * MIN, keepFiringForMs: 0, steps: [2, 2, null, 2], want: ['pending', 'pending', '-', 'pending'] },
    { name: 'resolved after firing', forMs: 1 * MIN, keepFiringForMs: 0, steps: [2, 2, null], want: ['pending', 'firing', 'inactive'] },
    { name: 'keep_firing_for holds through a gap', forMs: 0, keepFiringForMs: 2 * MIN, steps: [2, null, null, null], want: ['firing', 'firing', 'firing', 'inactive'] },
    { name: 'keep_firing_for resets when back', forMs: 0, keepFiringForMs: 2 * MIN, steps: [2, null, 2, null, null, null], want: ['firing', 'firing', 'firing', 'firing', 'firing', 'inactive'] },
    { name: 'back after resolution starts pending again', forMs: 1 * MIN, keepFiringForMs: 0, steps: [2, 2, null, 2], want: ['pending', 'firing', 'inactive', 'pending'] },
  ])('$name', async ({ forMs, keepFiringForMs, steps, want }) => {
    const rule = new AlertingRule(alertSpec({ forMs, keepFiringForMs }), { externalLabels: {}, externalURL: '' });
    const got: string[] = [];
    for (let i = 0; i < steps.length; i++) {
      const v = steps[i];
      await rule.eval(v === null ? [] : [{ labels: series, t: i * MIN, v }], i * MIN);
      const alerts = rule.alerts();
      got.push(alerts.length ? alerts[0].state : '-');
    }
    expect(got).toEqual(want);
  });

  it('writes ALERTS and ALERTS_FOR_STATE for pending and firing alerts', async () => {
    const rule = new AlertingRule(alertSpec({ forMs: MIN }), { externalLabels: {}, externalURL: '' });
    const t0 = 1_700_000_000_000;
    let r = await rule.eval([{ labels: series, t: t0, v: 3 }], t0);
    expect(r.samples.map((s) => [Object.fromEntries(s.labels.map((l) => [l.name, l.value])), s.v])).toEqual([
      [{ __name__: 'ALERTS', alertname: 'HighLoad', alertstate: 'pending', instance: 'n1', severity: 'warning' }, 1],
      [{ __name__: 'ALERTS_FOR_STATE', alertname: 'HighLoad', instance: 'n1', severity: 'warning' }, t0 / 1000],
    ]);
    r = await rule.eval([{ labels: series, t: t0 + MIN, v: 3 }], t0 + MIN);
    expect(r.samples[0].labels.find((l) => l.name === 'alertstate')?.value).toBe('firing');
    expect(r.transitions.map((x) => `${x.from}->${x.to}`)).toEqual(['pending->firing']);
    expect(rule.alerts()[0].annotations.summary).toBe('n1 load 3');
  });

  it('sends firing alerts with endsAt = t + 4·max(resend, interval), resolved once, then drops them after retention', async () => {
    const rule = new AlertingRule(alertSpec(), { externalLabels: { cluster: 'c1' }, externalURL: '' });
    await rule.eval([{ labels: series, t: 0, v: 3 }], 0);
    let sent = rule.alertsToSend(0, MIN, 30_000, 'http://x/graph');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ startsAt: 0, endsAt: 4 * MIN, labels: { cluster: 'c1', alertname: 'HighLoad' } });
    // Not re-sent before the resend delay.
    expect(rule.alertsToSend(30_000, MIN, 30_000, '')).toHaveLength(0);
    expect(rule.alertsToSend(MIN, MIN, 30_000, '')).toHaveLength(1);
    await rule.eval([], 2 * MIN);
    sent = rule.alertsToSend(2 * MIN, MIN, 30_000, '');
    expect(sent).toHaveLength(1);
    expect(sent[0].endsAt).toBe(2 * MIN);
    await rule.eval([], 2 * MIN + RESOLVED_RETENTION_MS + 1);
    expect(rule.alerts()).toHaveLength(0);
  });

  it('refuses duplicate label sets after applying rule labels', async () => {
    const rule = new AlertingRule(alertSpec({ labels: { instance: 'same' } }), { externalLabels: {}, externalURL: '' });
    const a = labelsFromObject({ __name__: 'load', instance: 'n1' });
    const b = labelsFromObject({ __name__: 'load', instance: 'n2' });
    await expect(rule.eval([{ labels: a, t: 0, v: 1 }, { labels: b, t: 0, v: 1 }], 0)).rejects.toThrow(/same labelset/);
  });

  it('restores for state: downtime does not count, grace period applies', async () => {
    const mk = async () => {
      const r = new AlertingRule(alertSpec({ forMs: 30 * MIN }), { externalLabels: {}, externalURL: '' });
      await r.eval([{ labels: series, t: 0, v: 3 }], 100 * MIN);
      return r;
    };
    // Pending 10m before going down at 60m, back at 100m: 20m remain → activeAt = 50+40 = 90m.
    let r = await mk();
    r.restoreForState(() => ({ activeAt: 50 * MIN, downAt: 60 * MIN }), 100 * MIN, 10 * MIN);
    expect(r.alerts()[0].activeAt).toBe(90 * MIN);
    // Already past `for` before going down: keeps its activeAt and fires on the next eval.
    r = await mk();
    r.restoreForState(() => ({ activeAt: 10 * MIN, downAt: 60 * MIN }), 100 * MIN, 10 * MIN);
    expect(r.alerts()[0].activeAt).toBe(10 * MIN);
    await r.eval([{ labels: series, t: 0, v: 3 }], 101 * MIN);
    expect(r.alerts()[0].state).toBe('firing');
    // 5m remaining < grace 10m: waits the grace period.
    r = await mk();
    r.restoreForState(() => ({ activeAt: 35 * MIN, downAt: 60 * MIN }), 100 * MIN, 10 * MIN);
    expect(r.alerts()[0].activeAt).toBe(100 * MIN + 10 * MIN - 30 * MIN);
  });
});
