/**
 * The per-round caches of the rules layer (expansions per input label set, ALERTS label
 * sets per alert, history episode ids) must give exactly what recomputing every round
 * gives: these cases change one input at a time and check the output follows.
 */
import { describe, expect, it } from 'vitest';
import { labelsFromObject, labelsToObject } from '../../shared/index.js';
import { MemoryStorage } from '../storage/memory.js';
import { Engine, engineQueryFunc } from '../promql/index.js';
import { AlertingRule } from './alerting-rule.js';
import { AlertHistory } from './history.js';
import { alertSpec } from '../../test/alerting/rule-spec.js';
import { Template } from './template.js';

const MIN = 60_000;
const series = labelsFromObject({ __name__: 'load', instance: 'n1' });


describe('Template.constant and usesQuery', () => {
  it('knows plain text and query calls, also nested in control structures and parentheses', () => {
    expect(Template.parse('t', 'plain text').constant).toBe('plain text');
    expect(Template.parse('t', '').constant).toBe('');
    expect(Template.parse('t', '{{/* c */}}x').constant).toBe('x');
    expect(Template.parse('t', '{{ "x" }}').constant).toBeUndefined();
    expect(Template.parse('t', '{{ $value }}').usesQuery).toBe(false);
    expect(Template.parse('t', '{{ query "up" }}').usesQuery).toBe(true);
    expect(Template.parse('t', '{{ with (query "up") }}{{ . | first | value }}{{ end }}').usesQuery).toBe(true);
    expect(Template.parse('t', '{{ if true }}a{{ else }}{{ range query "up" }}{{ .Value }}{{ end }}{{ end }}').usesQuery).toBe(true);
  });
});

describe('expansions reused across rounds', () => {
  it('re-expands annotations when the value changes and keeps them when it does not', async () => {
    const rule = new AlertingRule(alertSpec(), { externalLabels: {}, externalURL: '' });
    const summaries: string[] = [];
    for (const [i, v] of [3, 3, 4, 4, 3].entries()) {
      await rule.eval([{ labels: series, t: i * MIN, v }], i * MIN);
      summaries.push(rule.alerts()[0].annotations.summary);
    }
    expect(summaries).toEqual(['n1 load 3', 'n1 load 3', 'n1 load 4', 'n1 load 4', 'n1 load 3']);
    expect(rule.alerts()[0].value).toBe(3);
  });

  it('recomputes label templates that read the value', async () => {
    const rule = new AlertingRule(alertSpec({ labels: { band: '{{ if gt $value 5.0 }}high{{ else }}low{{ end }}' } }), { externalLabels: {}, externalURL: '' });
    const bands: string[] = [];
    for (const [i, v] of [2, 7, 7, 2].entries()) {
      await rule.eval([{ labels: series, t: i * MIN, v }], i * MIN);
      bands.push(rule.alerts().map((a) => labelsToObject(a.labels).band).join(','));
    }
    // Each band is its own alert; the other one resolves (kept as inactive for retention).
    expect(bands).toEqual(['low', 'low,high', 'low,high', 'low,high']);
    const firing = rule.alerts().filter((a) => a.state === 'firing').map((a) => labelsToObject(a.labels).band);
    expect(firing).toEqual(['low']);
  });

  it('an equal label set in a new array gives the same alert', async () => {
    const rule = new AlertingRule(alertSpec({ forMs: MIN }), { externalLabels: {}, externalURL: '' });
    await rule.eval([{ labels: series, t: 0, v: 3 }], 0);
    await rule.eval([{ labels: labelsFromObject({ __name__: 'load', instance: 'n1' }), t: MIN, v: 5 }], MIN);
    expect(rule.alerts()).toHaveLength(1);
    expect(rule.alerts()[0]).toMatchObject({ state: 'firing', value: 5, activeAt: 0, annotations: { summary: 'n1 load 5' } });
  });

  it('re-runs templates that call query every round, even with the same labels and value', async () => {
    const store = new MemoryStorage();
    const query = engineQueryFunc(new Engine(), store);
    const rule = new AlertingRule(alertSpec({ annotations: { peers: '{{ with query "peers" }}{{ . | first | value }}{{ end }}' } }), {
      externalLabels: {},
      externalURL: '',
      query,
    });
    const peers = labelsFromObject({ __name__: 'peers' });
    store.add(peers, 0, 1);
    await rule.eval([{ labels: series, t: 0, v: 3 }], 0);
    expect(rule.alerts()[0].annotations.peers).toBe('1');
    store.add(peers, MIN, 2);
    await rule.eval([{ labels: series, t: MIN, v: 3 }], MIN);
    expect(rule.alerts()[0].annotations.peers).toBe('2');
  });

  it('ALERTS follows the state while ALERTS_FOR_STATE follows a restored activeAt', async () => {
    const rule = new AlertingRule(alertSpec({ forMs: 2 * MIN }), { externalLabels: {}, externalURL: '' });
    const states: string[] = [];
    const forState: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await rule.eval([{ labels: series, t: i * MIN, v: 3 }], i * MIN);
      states.push(labelsToObject(r.samples[0].labels).alertstate);
      forState.push(r.samples[1].v);
      if (i === 0) rule.restoreForState(() => ({ activeAt: -10 * MIN, downAt: -MIN }), 0, 0);
    }
    expect(states).toEqual(['pending', 'firing', 'firing', 'firing']);
    expect(forState).toEqual([0, -600, -600, -600]);
  });
});

describe('history touches with remembered episodes', () => {
  type Row = { state: string; last_seen_at: number; last_value: number; peak_value: number; annotations: string };
  const rows = (h: AlertHistory) => h.db.prepare('SELECT state, last_seen_at, last_value, peak_value, annotations FROM alert_episodes ORDER BY id').all() as Row[];

  async function step(h: AlertHistory, rule: AlertingRule, t: number, v: number | null) {
    const r = await rule.eval(v === null ? [] : [{ labels: series, t, v }], t);
    h.record(rule.name, r.transitions, rule.alerts(), t);
  }

  it('moves last_seen_at every round and writes value, peak and annotations when they change', async () => {
    const h = new AlertHistory({ db: ':memory:' });
    const rule = new AlertingRule(alertSpec(), { externalLabels: {}, externalURL: '' });
    await step(h, rule, 0, 3);
    await step(h, rule, MIN, 3);
    expect(rows(h)).toEqual([{ state: 'firing', last_seen_at: MIN, last_value: 3, peak_value: 3, annotations: '{"summary":"n1 load 3"}' }]);
    await step(h, rule, 2 * MIN, 5);
    await step(h, rule, 3 * MIN, 4);
    await step(h, rule, 4 * MIN, 4);
    expect(rows(h)).toEqual([{ state: 'firing', last_seen_at: 4 * MIN, last_value: 4, peak_value: 5, annotations: '{"summary":"n1 load 4"}' }]);
    await step(h, rule, 5 * MIN, null);
    expect(rows(h)[0]).toMatchObject({ state: 'resolved', last_seen_at: 5 * MIN });
    h.close();
  });

  it('leaves an episode closed behind its back alone and follows the one that replaced it', async () => {
    const h = new AlertHistory({ db: ':memory:' });
    const rule = new AlertingRule(alertSpec(), { externalLabels: {}, externalURL: '' });
    await step(h, rule, 0, 3);
    await step(h, rule, MIN, 3);
    // Closed elsewhere (as after a restart that did not see the alert).
    expect(h.closeVanished(rule.name, new Set(), 90_000)).toBe(1);
    await step(h, rule, 2 * MIN, 3);
    expect(rows(h)).toEqual([expect.objectContaining({ state: 'resolved', last_seen_at: 90_000 })]);
    // A rule of the same name and labels in another group opens a new episode: the first
    // rule's alert (same fingerprint) touches that one, unchanged or not.
    const twin = new AlertingRule(alertSpec(), { externalLabels: {}, externalURL: '' });
    await step(h, twin, 3 * MIN, 3);
    await step(h, rule, 4 * MIN, 3);
    expect(rows(h)[1]).toMatchObject({ state: 'firing', last_seen_at: 4 * MIN, last_value: 3 });
    await step(h, rule, 5 * MIN, 6);
    expect(rows(h)[1]).toMatchObject({ state: 'firing', last_seen_at: 5 * MIN, last_value: 6, peak_value: 6 });
    expect(rows(h)[0]).toMatchObject({ state: 'resolved', last_seen_at: 90_000 });
    h.close();
  });
});
