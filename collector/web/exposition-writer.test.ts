import { describe, expect, it } from 'vitest';
import type { ExposedSample, Label, Labels } from '../../shared/index.js';
import { formatFamily, formatSampleLine, getLabel, labelsFromObject, STALE_NAN } from '../../shared/index.js';
import type { HeadReader, MetricMetadataRecord } from '../storage/index.js';
import { openTsdb } from '../tsdb/index.js';
import { FALLBACK_HELP, StoredSeriesRenderer } from './exposition-writer.js';

/** The renderer as it was before the fast path: shared/exposition.ts line by line. */
function reference(head: HeadReader, exclude: ReadonlySet<string>): string {
  const byName = new Map<string, ExposedSample[]>();
  for (const s of head.latestSamples()) {
    const name = getLabel(s.labels, '__name__');
    if (exclude.has(name)) continue;
    let fam = byName.get(name);
    if (!fam) byName.set(name, (fam = []));
    fam.push(s);
  }
  const meta = head.metadata();
  let out = '';
  for (const name of [...byName.keys()].sort()) {
    const md = meta.get(name);
    const type = md && (md.type === 'counter' || md.type === 'gauge') ? md.type : 'untyped';
    out += formatFamily({ name, help: md?.help || FALLBACK_HELP, type }, []);
    for (const s of byName.get(name) ?? []) out += formatSampleLine(s) + '\n';
  }
  return out;
}

async function render(r: StoredSeriesRenderer, head: HeadReader, exclude: ReadonlySet<string> = new Set()): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of r.render(head, exclude)) parts.push(Buffer.from(chunk, 'utf8'));
  return Buffer.concat(parts);
}

/** A head over fixed series; shares Label objects between series as the TSDB does. */
function fakeHead(series: Array<{ labels: Labels; t: number; v: number }>, meta: MetricMetadataRecord[] = []): HeadReader {
  const m = new Map(meta.map((r) => [r.metric, r]));
  return { latestSamples: () => series, metadata: () => m };
}

function interned(): (ls: Labels) => Labels {
  const pairs = new Map<string, Label>();
  return (ls) => ls.map((l) => {
    const k = l.name + '\0' + l.value;
    let p = pairs.get(k);
    if (!p) pairs.set(k, (p = Object.freeze({ ...l })));
    return p;
  });
}

const meta: MetricMetadataRecord[] = [
  { metric: 'node_load1', type: 'gauge', help: '1m load average.', unit: '' },
  { metric: 'http_requests_total', type: 'counter', help: 'Back\\slash and\nnewline "quoted".', unit: '' },
  { metric: 'rpc_seconds_bucket', type: 'histogram', help: 'Histogram part.', unit: '' },
  { metric: 'empty_help', type: 'gauge', help: '', unit: '' },
];

function variedSeries(): Array<{ labels: Labels; t: number; v: number }> {
  const intern = interned();
  const s = (o: Record<string, string>, v: number, t = 1_700_000_000_123) => ({ labels: intern(labelsFromObject(o)), t, v });
  return [
    s({ __name__: 'node_load1', node: 'n1' }, 0.5),
    s({ __name__: 'node_load1', node: 'n2' }, NaN),
    s({ __name__: 'node_load1', node: 'n3' }, Infinity),
    s({ __name__: 'node_load1', node: 'n4' }, -Infinity),
    s({ __name__: 'node_load1', node: 'n5' }, -0),
    s({ __name__: 'node_load1' }, 1e21, 1_700_000_000_000),
    s({ __name__: 'http_requests_total', path: 'C:\\dir\\', q: 'say "hi"\nbye' }, 12345678901234),
    s({ __name__: 'http_requests_total', path: 'ümlaut/日本語/🚀', q: 'x' }, 1e-7, 1.5),
    s({ __name__: 'http_requests_total', path: 'lone \ud800 surrogate', q: 'x' }, 3, 2.5),
    s({ __name__: 'rpc_seconds_bucket', le: '+Inf' }, 7, 99),
    s({ __name__: 'rpc_seconds_bucket', le: '0.1' }, 5, 99),
    s({ __name__: 'no_meta_metric', A_upper: 'sorts before __name__', b: '1' }, 2),
    s({ __name__: 'empty_help', a: 'b' }, 1),
    s({ __name__: 'own_metric', a: 'b' }, 1),
    s({ orphan: 'no metric name' }, 4),
    s({ __name__: 'node_load1', node: 'n1', pod: 'p' }, Number.MAX_VALUE),
    s({ __name__: 'node_load1', node: 'n6' }, Number.MIN_VALUE, 0),
  ];
}

describe('StoredSeriesRenderer', () => {
  it('writes the same bytes as the line-by-line renderer on varied label sets and values', async () => {
    const head = fakeHead(variedSeries(), meta);
    const exclude = new Set(['own_metric']);
    const want = Buffer.from(reference(head, exclude), 'utf8');
    expect(want.toString()).toContain('node_load1{node="n2"} NaN 1700000000123\n');
    expect(want.toString()).toContain('q="say \\"hi\\"\\nbye"');
    expect(want.toString()).not.toContain('own_metric');
    for (const opts of [{}, { prefixCacheMaxSeries: 0 }, { chunkChars: 1 }, { chunkChars: 50, prefixCacheMaxSeries: 3 }]) {
      const r = new StoredSeriesRenderer(opts);
      // Twice: the second scrape serves cached prefixes.
      expect((await render(r, head, exclude)).equals(want)).toBe(true);
      expect((await render(r, head, exclude)).equals(want)).toBe(true);
    }
  });

  it('matches the reference on random label sets, through cache misses, hits and churn', async () => {
    let seed = 42;
    const rnd = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) >>> 0) % n);
    const alphabet = ['a', 'b', 'Z', '0', '_', ' ', '\\', '"', '\n', '{', '}', ',', '=', 'é', '€', '😀', '\t'];
    const str = (max: number) => Array.from({ length: 1 + rnd(max) }, () => alphabet[rnd(alphabet.length)]).join('');
    const values = [0, 1, -1, 0.1, 1 / 3, 1e300, -2.5e-300, NaN, Infinity, -Infinity, 2 ** 53 + 2, 42];
    const intern = interned();
    const make = (i: number) => {
      const o: Record<string, string> = { __name__: `metric_${rnd(7)}` };
      for (let k = rnd(5); k > 0; k--) o[`l${rnd(9)}`] = str(12);
      return { labels: intern(labelsFromObject(o)), t: 1_000 + rnd(3) * 1000 + i, v: values[rnd(values.length)] };
    };
    let series = Array.from({ length: 400 }, (_, i) => make(i));
    const r = new StoredSeriesRenderer({ prefixCacheMaxSeries: 300, chunkChars: 2048 });
    for (let round = 0; round < 4; round++) {
      const head = fakeHead(series, meta);
      expect((await render(r, head)).equals(Buffer.from(reference(head, new Set()), 'utf8'))).toBe(true);
      expect(r.cachedPrefixes).toBeLessThanOrEqual(300);
      // Churn: a third of the series go, new ones come.
      series = [...series.filter(() => rnd(3) !== 0), ...Array.from({ length: 150 }, (_, i) => make(1000 * round + i))];
    }
  });

  it('forgets the prefixes of gone series, keeping the cache within its bound', async () => {
    const intern = interned();
    const mk = (i: number) => ({ labels: intern(labelsFromObject({ __name__: 'm', i: String(i) })), t: 1, v: i });
    const r = new StoredSeriesRenderer({ prefixCacheMaxSeries: 250 });
    const check = async (series: Array<{ labels: Labels; t: number; v: number }>) => {
      const head = fakeHead(series);
      expect((await render(r, head)).toString()).toBe(reference(head, new Set()));
    };
    const first = Array.from({ length: 200 }, (_, i) => mk(i));
    await check(first);
    expect(r.cachedPrefixes).toBe(200);
    const second = [...first.slice(100), ...Array.from({ length: 100 }, (_, i) => mk(1000 + i))];
    await check(second); // 50 of the new ones fit; 100 entries are dead
    expect(r.cachedPrefixes).toBe(250);
    await check(second); // rebuilt from the live series
    expect(r.cachedPrefixes).toBe(200);
    await check(second);
    expect(r.cachedPrefixes).toBe(200);
    await check(Array.from({ length: 400 }, (_, i) => mk(5000 + i)));
    expect(r.cachedPrefixes).toBe(250);
  });

  it('matches the reference over the real TSDB, where stale series are left out', async () => {
    const store = openTsdb({ dataDir: ':memory:', maintenanceIntervalMs: 0 });
    try {
      const app = store.appender();
      app.append(labelsFromObject({ __name__: 'up', job: 'a' }), 1000, 1);
      app.append(labelsFromObject({ __name__: 'up', job: 'b' }), 1000, 0);
      app.append(labelsFromObject({ __name__: 'up', job: 'b' }), 2000, STALE_NAN);
      app.append(labelsFromObject({ __name__: 'temp', where: 'Zürich "HQ"' }), 1500, -3.25);
      app.updateMetadata({ metric: 'up', type: 'gauge', help: 'Target up.', unit: '' });
      app.commit();
      const want = reference(store, new Set());
      expect(want).toBe(
        `# HELP temp ${FALLBACK_HELP}\n# TYPE temp untyped\ntemp{where="Zürich \\"HQ\\""} -3.25 1500\n` +
          '# HELP up Target up.\n# TYPE up gauge\nup{job="a"} 1 1000\n',
      );
      const r = new StoredSeriesRenderer();
      expect((await render(r, store)).toString('utf8')).toBe(want);
      expect((await render(r, store)).toString('utf8')).toBe(want);
    } finally {
      store.close();
    }
  });

  it('yields to the event loop once a slice of work has passed', async () => {
    const intern = interned();
    const series = Array.from({ length: 5000 }, (_, i) => ({ labels: intern(labelsFromObject({ __name__: `m${i % 3}`, i: String(i) })), t: i, v: i }));
    let clock = 0;
    // Every look at the clock is a millisecond later: a 5 ms slice ends after 5 looks.
    const r = new StoredSeriesRenderer({ sliceMs: 5, chunkChars: 1000, now: () => clock++ });
    let turns = 0;
    let done = false;
    const tick = () => {
      turns++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    const out = await render(r, fakeHead(series));
    done = true;
    expect(out.toString()).toBe(reference(fakeHead(series), new Set()));
    expect(turns).toBeGreaterThan(10);
  });

  it('refuses nonsense options', () => {
    expect(() => new StoredSeriesRenderer({ sliceMs: 0 })).toThrow(/sliceMs/);
    expect(() => new StoredSeriesRenderer({ chunkChars: 0 })).toThrow(/chunkChars/);
    expect(() => new StoredSeriesRenderer({ prefixCacheMaxSeries: -1 })).toThrow(/prefixCacheMaxSeries/);
  });
});
