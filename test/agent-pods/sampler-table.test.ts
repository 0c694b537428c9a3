/**
 * The sampler's series table kept between ticks: same answers as building every label
 * set afresh, whatever the sources do with their label objects (reuse and mutate them,
 * vary the key order, send the same series from two sources or twice), stale markers
 * once, series that come back after going stale, and the kubelet source's label objects
 * kept from one summary to the next.
 */
import { describe, expect, it } from 'vitest';
import { isStaleNaN, labelsToString, type TimeSeries } from '../../shared/index.js';
import { Sampler, type Batch } from '../../agent/sampler.js';
import type { MetricSink, Source } from '../../agent/sources/source.js';
import { SummaryLabelCache, emitSummary } from '../../agent/sources/kubelet/summary-series.js';
import type { Summary } from '../../agent/sources/kubelet/summary-types.js';

const src = (name: string, collect: (sink: MetricSink) => void, targetLabels: Record<string, string> = { job: name }): Source => ({ name, targetLabels, collect });

function view(series: TimeSeries[]): string[] {
  return series.map((s) => `${labelsToString(s.labels)} ${s.samples.map((x) => (isStaleNaN(x.v) ? 'stale' : `${x.v}@${x.t}`)).join(',')}`);
}

function sampler(sources: Source[]): { s: Sampler; at: (t: number) => void } {
  let now = 0;
  return { s: new Sampler({ sources, baseLabels: { node: 'n' }, intervalMs: 1000, now: () => now }), at: (t) => (now = t) };
}

describe('Sampler series table', () => {
  it('gives each series its own labels when a source reuses and mutates one label object', async () => {
    const { s, at } = sampler([
      src('a', (sink) => {
        const l: Record<string, string> = { pod: '' };
        for (const p of ['p1', 'p2', 'p3']) {
          l.pod = p;
          sink.add('up', l, p.length + Number(p[1]));
        }
      }),
    ]);
    for (const t of [1000, 2000]) {
      at(t);
      const b = await s.tick();
      expect(view(b.series)).toEqual([`up{job="a", node="n", pod="p1"} 3@${t}`, `up{job="a", node="n", pod="p2"} 4@${t}`, `up{job="a", node="n", pod="p3"} 5@${t}`]);
    }
  });

  it('treats the same labels in another key order as the same series, and drops empty values', async () => {
    let flip = false;
    const { s, at } = sampler([
      src('a', (sink) => {
        sink.add('x', flip ? { b: '2', a: '1', c: '' } : { a: '1', b: '2' }, flip ? 2 : 1);
      }),
    ]);
    at(1000);
    const b1 = await s.tick();
    flip = true;
    at(2000);
    const b2 = await s.tick();
    expect(view(b1.series)).toEqual(['x{a="1", b="2", job="a", node="n"} 1@1000']);
    expect(view(b2.series)).toEqual(['x{a="1", b="2", job="a", node="n"} 2@2000']);
    // One series, one slot: its label bytes were encoded once and are reused.
    const where = (b: typeof b1) => [b.packed!.headStart[0], b.packed!.headEnd[0], b.packed!.tailStart[0], b.packed!.tailEnd[0]];
    expect(where(b2)).toEqual(where(b1));
    expect(b2.packed!.arena).toBe(b1.packed!.arena);
  });

  it('merges the same final series from two sources, samples sorted by time', async () => {
    const { s, at } = sampler([
      src('a', (sink) => sink.add('m', { k: 'v' }, 1, 900), { job: 'j' }),
      src('b', (sink) => sink.add('m', { k: 'v' }, 2, 800), { job: 'j' }),
    ]);
    for (const t of [1000, 2000]) {
      at(t);
      const b = await s.tick();
      expect(view(b.series)).toEqual(['m{job="j", k="v", node="n"} 2@800,1@900']);
      expect(b.samples).toBe(2);
    }
  });

  it('marks a vanished series stale once, and takes it back when it returns', async () => {
    let pods = ['a', 'b'];
    const { s, at } = sampler([src('p', (sink) => pods.forEach((p) => sink.add('up', { pod: p }, 1)))]);
    at(1000);
    await s.tick();
    pods = ['a'];
    at(2000);
    expect(view((await s.tick()).series)).toEqual(['up{job="p", node="n", pod="a"} 1@2000', 'up{job="p", node="n", pod="b"} stale']);
    at(3000);
    expect(view((await s.tick()).series)).toEqual(['up{job="p", node="n", pod="a"} 1@3000']);
    pods = ['a', 'b'];
    at(4000);
    expect(view((await s.tick()).series)).toEqual(['up{job="p", node="n", pod="a"} 1@4000', 'up{job="p", node="n", pod="b"} 1@4000']);
    // Many pods churning: every series that goes away is marked, none twice.
    for (let i = 0; i < 5; i++) {
      pods = [`x${i}`, `y${i}`];
      at(5000 + i * 1000);
      const b = await s.tick();
      const stale = b.series.filter((x) => isStaleNaN(x.samples[0].v)).map((x) => labelsToString(x.labels));
      expect(stale).toEqual(i === 0 ? ['up{job="p", node="n", pod="a"}', 'up{job="p", node="n", pod="b"}'] : [`up{job="p", node="n", pod="x${i - 1}"}`, `up{job="p", node="n", pod="y${i - 1}"}`]);
    }
  });
});

describe('Sampler series table under churn', () => {
  it('reuses the slots of dropped series and moves the label bytes, earlier batches unchanged', async () => {
    // 1,500 series a tick with ~200 bytes of labels each: the 256 KiB arena fills within
    // two ticks, so dropped series' bytes are compacted away while batches refer to them.
    let gen = 0;
    const pad = 'x'.repeat(150);
    const names = (g: number) => Array.from({ length: 1500 }, (_, i) => `pod-${g}-${i}-${pad}`);
    const { s, at } = sampler([src('p', (sink) => names(gen).forEach((p, i) => sink.add('up', { pod: p }, i + gen)))]);
    const batches = [];
    for (gen = 0; gen < 6; gen++) {
      at(1000 * (gen + 1));
      batches.push(await s.tick());
    }
    // Read every batch only now, after all the ticks that followed it.
    batches.forEach((b, g) => {
      const live = names(g).map((p, i) => `up{job="p", node="n", pod="${p}"} ${i + g}@${1000 * (g + 1)}`);
      const stale = g === 0 ? [] : names(g - 1).map((p) => `up{job="p", node="n", pod="${p}"} stale`);
      expect(view(b.series)).toEqual([...live, ...stale]);
      expect(b.samples).toBe(live.length + stale.length);
    });
    expect(new Set(batches.map((b) => b.packed!.arena)).size).toBeGreaterThan(1);
  });

  it('keeps every series right when series sharing labels come and go one by one (random churn)', async () => {
    let x = 7;
    const rnd = (n: number) => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n;
    const metrics = ['a_total', 'b_bytes', 'c_seconds'];
    let emitted: Array<[string, string]> = [];
    const { s, at } = sampler([src('p', (sink) => emitted.forEach(([m, pod], i) => sink.add(m, { pod, pad: 'z'.repeat(100 + (pod.length % 7) * 40) }, i)))]);
    let previous: string[] = [];
    const batches: Array<[ReturnType<typeof view>, Batch]> = [];
    for (let tick = 1; tick <= 40; tick++) {
      // ~60 pods, each with a random subset of the metrics; pods renamed now and then.
      emitted = [];
      for (let p = 0; p < 60; p++) for (const m of metrics) if (rnd(4) > 0) emitted.push([m, `pod-${p}-${rnd(3) === 0 ? tick : 0}`]);
      const key = ([m, pod]: [string, string]) => `${m}{job="p", node="n", pad="${'z'.repeat(100 + (pod.length % 7) * 40)}", pod="${pod}"}`;
      const live = emitted.map((e, i) => `${key(e)} ${i}@${tick * 1000}`);
      const now = new Set(emitted.map(key));
      const stale = previous.filter((k) => !now.has(k)).map((k) => `${k} stale`);
      previous = [...new Set(emitted.map(key))];
      at(tick * 1000);
      batches.push([[...live, ...stale], await s.tick()]);
    }
    for (const [want, b] of batches) expect(view(b.series)).toEqual(want);
  });

  it('finds a series again by its label set when a source changes its raw form', async () => {
    let form = 0;
    const { s, at } = sampler([
      src('a', (sink) => {
        const forms: Record<string, string>[] = [{ a: '1', b: '2' }, { b: '2', a: '1' }, { a: '1', b: '2', c: '' }];
        sink.add('m', forms[form % 3], form);
      }),
    ]);
    for (form = 0; form < 6; form++) {
      at(1000 * (form + 1));
      const b = await s.tick();
      expect(view(b.series)).toEqual([`m{a="1", b="2", job="a", node="n"} ${form}@${1000 * (form + 1)}`]);
    }
  });
});

describe('Sampler ticks called together', () => {
  it('runs them one after the other, each carrying the table over', async () => {
    const calls = [['a', 'b'], ['a']];
    let now = 0;
    const s = new Sampler({
      sources: [
        src('p', async (sink) => {
          const mine = calls.shift() ?? [];
          await new Promise((r) => setTimeout(r, 20));
          mine.forEach((p) => sink.add('up', { pod: p }, 1));
        }),
      ],
      baseLabels: {},
      intervalMs: 1000,
      now: () => (now += 1000),
    });
    const first = s.tick();
    const second = s.tick();
    const [b1, b2] = await Promise.all([first, second]);
    expect(view(b1.series)).toEqual(['up{job="p", pod="a"} 1@1000', 'up{job="p", pod="b"} 1@1000']);
    expect(view(b2.series)).toEqual(['up{job="p", pod="a"} 1@2000', 'up{job="p", pod="b"} stale']);
  });
});

describe('SummaryLabelCache', () => {
  const summary = (): Summary =>
    ({
      node: { cpu: { usageCoreNanoSeconds: 1e9 } },
      pods: [
        {
          podRef: { uid: 'u1', name: 'p', namespace: 'ns' },
          cpu: { usageCoreNanoSeconds: 2e9 },
          memory: { workingSetBytes: 5, pageFaults: 1, majorPageFaults: 0 },
          network: { interfaces: [{ name: 'eth0', rxBytes: 1 }] },
          containers: [{ name: 'c', cpu: { usageCoreNanoSeconds: 3e9 }, logs: { usedBytes: 7 } }],
        },
      ],
    }) as unknown as Summary;
  const index = (image: string) => ({
    pod: (uid: string) => (uid === 'u1' ? { uid, name: 'p', namespace: 'ns', containers: [{ name: 'c', image, id: '' }] } : undefined),
    container: () => undefined,
    synced: () => true,
    size: () => 1,
  });
  const collect = (cache: SummaryLabelCache | undefined, image: string) => {
    const adds: Array<[string, Readonly<Record<string, string>>, number]> = [];
    emitSummary(summary(), { family() {}, add: (n, l, v) => adds.push([n, l, v]) }, { podIndex: index(image), labels: cache });
    return adds;
  };

  it('emits what it emits without a cache, with the same label objects every summary', () => {
    const cache = new SummaryLabelCache();
    const plain = collect(undefined, 'img:1');
    const first = collect(cache, 'img:1');
    const second = collect(cache, 'img:1');
    expect(first).toEqual(plain);
    expect(second).toEqual(plain);
    for (let i = 0; i < first.length; i++) expect(second[i][1]).toBe(first[i][1]);
    expect(first.find(([n, l]) => n === 'container_cpu_usage_seconds_total' && l.container === 'c')?.[1]).toEqual({ namespace: 'ns', pod: 'p', container: 'c', image: 'img:1', cpu: 'total' });
  });

  it('rebuilds a row whose image changed, and forgets rows gone from the summary', () => {
    const cache = new SummaryLabelCache();
    collect(cache, 'img:1');
    expect(cache.size).toBe(3); // node, pod, container
    const after = collect(cache, 'img:2');
    expect(after.find(([n, l]) => n === 'container_cpu_usage_seconds_total' && l.container === 'c')?.[1].image).toBe('img:2');
    emitSummary({ pods: [] } as unknown as Summary, { family() {}, add() {} }, { labels: cache, node: false });
    expect(cache.size).toBe(0);
  });
});
