import { describe, expect, it } from 'vitest';
import { getLabel, isStaleNaN, labelsToString } from '../shared/index.js';
import { Sampler, type SamplerMetrics } from './sampler.js';
import type { Source } from './sources/source.js';

function source(name: string, fn: Source['collect'], targetLabels: Record<string, string> = { job: name }): Source {
  return { name, targetLabels, collect: fn };
}

describe('Sampler', () => {
  it('stamps base and target labels, sorts labels, and carries family metadata', async () => {
    const s = new Sampler({
      sources: [
        source('a', (sink) => {
          sink.family('a_total', 'counter', 'A things.');
          sink.add('a_total', { z: '1', mode: 'x' }, 5);
        }),
      ],
      baseLabels: { cluster: 'c', node: 'n', instance: 'n' },
      intervalMs: 1000,
      now: () => 42_000,
    });
    const b = await s.tick();
    expect(b.series.map((x) => labelsToString(x.labels))).toEqual(['a_total{cluster="c", instance="n", job="a", mode="x", node="n", z="1"}']);
    expect(b.series[0].samples).toEqual([{ t: 42_000, v: 5 }]);
    expect(b.families.get('a_total')).toEqual({ type: 'counter', help: 'A things.' });
    expect(b.samples).toBe(1);
  });

  it('sends a stale marker for a series that vanished since the last tick', async () => {
    let pods = ['p1', 'p2'];
    let now = 10_000;
    const s = new Sampler({
      sources: [source('pods', (sink) => pods.forEach((p) => sink.add('up', { pod: p }, 1)))],
      baseLabels: {},
      intervalMs: 1000,
      now: () => now,
    });
    await s.tick();
    pods = ['p1', 'p3'];
    now = 11_000;
    const b = await s.tick();
    const byPod = new Map(b.series.map((x) => [getLabel(x.labels, 'pod'), x.samples]));
    expect(byPod.get('p1')).toEqual([{ t: 11_000, v: 1 }]);
    expect(byPod.get('p3')).toEqual([{ t: 11_000, v: 1 }]);
    expect(byPod.get('p2')).toHaveLength(1);
    expect(isStaleNaN(byPod.get('p2')![0].v)).toBe(true);
    // Only once: the next tick does not repeat it.
    now = 12_000;
    const c = await s.tick();
    expect(c.series.map((x) => getLabel(x.labels, 'pod')).sort()).toEqual(['p1', 'p3']);
  });

  it('cuts a slow source off at its deadline, counts it, and ships the rest', async () => {
    const events: string[] = [];
    const metrics: SamplerMetrics = {
      tickDuration: () => {},
      sourceDuration: () => {},
      sourceError: (src, reason) => events.push(`${src}:${reason}`),
      deadlineExceeded: (src) => events.push(`${src}:deadline`),
    };
    const s = new Sampler({
      sources: [
        source('fast', (sink) => sink.add('fast_value', {}, 1)),
        source('slow', async (sink, ctx) => {
          await new Promise((r) => setTimeout(r, 500));
          sink.add('slow_value', {}, ctx.signal.aborted ? -1 : 1); // ignored: sink closed
        }),
        source('broken', () => {
          throw new Error('boom');
        }),
      ],
      baseLabels: {},
      intervalMs: 1000,
      deadlineMs: 50,
      metrics,
    });
    const started = Date.now();
    const b = await s.tick();
    expect(Date.now() - started).toBeLessThan(400);
    expect(b.series.map((x) => getLabel(x.labels, '__name__'))).toEqual(['fast_value']);
    expect(events.sort()).toEqual(['broken:collect_failed', 'slow:deadline', 'slow:deadline_exceeded']);
    await new Promise((r) => setTimeout(r, 500));
  });

  it('never overlaps ticks: a tick that overruns delays the next one', async () => {
    let active = 0;
    let maxActive = 0;
    let ticks = 0;
    const s = new Sampler({
      sources: [
        source('slowish', async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await new Promise((r) => setTimeout(r, 30));
          active--;
        }),
      ],
      baseLabels: {},
      intervalMs: 20,
      deadlineMs: 1000,
    });
    s.start(async () => {
      ticks++;
      await new Promise((r) => setTimeout(r, 10));
    });
    await new Promise((r) => setTimeout(r, 300));
    await s.stop();
    expect(ticks).toBeGreaterThan(2);
    expect(maxActive).toBe(1);
  });

  it('refuses a non-positive interval', () => {
    expect(() => new Sampler({ sources: [], baseLabels: {}, intervalMs: 0 })).toThrow(/interval must be positive/);
  });
});
