import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import snappy from 'snappy';
import {
  decodeLabels,
  decodeWriteRequest,
  decodeWriteRequestBody,
  encodeLabels,
  encodePackedWriteRequestBody,
  encodeWriteRequest,
  encodeWriteRequestBody,
  packedLabels,
  snappyCompress,
  snappyDecompress,
  WireFormatError,
  type PackedSeries,
  type WriteRequest,
} from './wire.js';
import { float64Bits, isStaleNaN, STALE_NAN } from './samples.js';
import { labelsFromObject } from './labels.js';
import { fixture } from '../test/helpers/paths.js';

const ls = (o: Record<string, string>) => labelsFromObject(o);

describe('remote_write codec', () => {
  it.each([
    { name: 'plain values', vs: [0, 1, -1.5, 1e300, 5e-324] },
    { name: 'NaN and infinities', vs: [NaN, Infinity, -Infinity] },
    { name: 'stale marker', vs: [STALE_NAN] },
  ])('round-trips $name bit for bit', ({ vs }) => {
    const req: WriteRequest = {
      timeseries: [{ labels: ls({ __name__: 'up', job: 'x' }), samples: vs.map((v, i) => ({ t: 1_700_000_000_000 + i, v })) }],
    };
    const back = decodeWriteRequestBody(encodeWriteRequestBody(req));
    expect(back.timeseries).toHaveLength(1);
    expect(back.timeseries[0].labels).toEqual(req.timeseries[0].labels);
    const got = back.timeseries[0].samples;
    expect(got.map((s) => s.t)).toEqual(vs.map((_, i) => 1_700_000_000_000 + i));
    expect(got.map((s) => float64Bits(s.v))).toEqual(vs.map((v) => float64Bits(v)));
  });

  it('keeps the stale marker distinguishable from an ordinary NaN', () => {
    const back = decodeWriteRequestBody(
      encodeWriteRequestBody({ timeseries: [{ labels: ls({ __name__: 'a' }), samples: [{ t: 1, v: STALE_NAN }, { t: 2, v: NaN }] }] }),
    );
    expect(float64Bits(back.timeseries[0].samples[0].v)).toBe(0x7ff0000000000002n);
    expect(isStaleNaN(back.timeseries[0].samples[0].v)).toBe(true);
    expect(isStaleNaN(back.timeseries[0].samples[1].v)).toBe(false);
  });

  it('round-trips timestamps of every size, negative and zero included, and reused label sets', () => {
    const labels = ls({ __name__: 'x', unicode: 'ünï', long: 'y'.repeat(300) });
    const ts = [0, 1, 127, 128, 16_383, 1_700_000_000_123, 2 ** 53 - 1, -1, -1_700_000_000_000];
    const req: WriteRequest = { timeseries: [{ labels, samples: ts.map((t) => ({ t, v: t / 2 })) }, { labels, samples: [{ t: 5, v: 1 }] }] };
    expect(decodeWriteRequest(encodeWriteRequest(req))).toEqual(req);
    expect(decodeWriteRequest(encodeWriteRequest(req))).toEqual(req); // second time from the label cache
  });

  it('round-trips an empty request', () => {
    expect(decodeWriteRequestBody(encodeWriteRequestBody({ timeseries: [] }))).toEqual({ timeseries: [] });
  });

  it('round-trips a 1 MB request with unicode labels and metadata', () => {
    const timeseries = [];
    for (let i = 0; i < 4000; i++) {
      timeseries.push({ labels: ls({ __name__: 'node_memory_bytes', pod: `pod-ü-${i}`, padding: 'x'.repeat(200) }), samples: [{ t: i * 1000, v: i / 3 }] });
    }
    const req: WriteRequest = { timeseries, metadata: [{ type: 2, metricFamilyName: 'node_memory_bytes', help: 'Memory.', unit: 'bytes' }] };
    const raw = encodeWriteRequest(req);
    expect(raw.length).toBeGreaterThan(1_000_000);
    expect(decodeWriteRequest(raw)).toEqual(req);
  });

  it('decodes the real promscale remote-write request', () => {
    const raw = gunzipSync(readFileSync(fixture('remote-write', 'promscale', 'real-dataset.gz')));
    const req = decodeWriteRequest(raw);
    expect(req.timeseries).toHaveLength(1025);
    const samples = req.timeseries.reduce((n, ts) => n + ts.samples.length, 0);
    expect(samples).toBe(790_598);
    const first = req.timeseries[0];
    expect(first.labels.find((l) => l.name === 'job')?.value).toBe('demo');
    // 2020-08-10, as the fixture README says.
    expect(new Date(first.samples[0].t).toISOString().slice(0, 10)).toBe('2020-08-10');
    // Re-encoding gives a request that decodes to the same thing.
    expect(decodeWriteRequest(encodeWriteRequest(req)).timeseries[7]).toEqual(req.timeseries[7]);
  });

  it.each([
    { name: 'random bytes', body: Buffer.from('definitely not snappy at all'), want: /snappy/ },
    { name: 'empty body', body: Buffer.alloc(0), want: /empty body/ },
    { name: 'truncated snappy', body: snappy.compressSync(Buffer.alloc(5000, 1)).subarray(0, 10), want: /snappy/ },
    { name: 'valid snappy of invalid protobuf', body: snappy.compressSync(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01])), want: /protobuf/ },
    { name: 'invalid UTF-8 in a label', body: snappy.compressSync(Buffer.from([0x0a, 0x06, 0x0a, 0x04, 0x0a, 0x02, 0xc3, 0x28])), want: /UTF-8/ },
  ])('refuses $name with a WireFormatError', ({ body, want }) => {
    expect(() => decodeWriteRequestBody(body)).toThrow(WireFormatError);
    expect(() => decodeWriteRequestBody(body)).toThrow(want);
  });

  it('refuses a body that claims to decompress beyond the limit before allocating it', () => {
    const body = snappy.compressSync(Buffer.alloc(10_000));
    expect(() => snappyDecompress(body, { maxDecompressedBytes: 1000 })).toThrow(/exceeds the limit of 1000 bytes/);
  });
});

describe('snappy compression (JS)', () => {
  /** Bytes from a small alphabet with back-references at every distance: matches of every length and offset. */
  function mixed(n: number, seed: number): Buffer {
    let x = seed;
    const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = i > 70_000 && rnd() < 0.2 ? b[i - 1 - Math.floor(rnd() * 70_000)] : i > 8 && rnd() < 0.4 ? b[i - 1 - Math.floor(rnd() * 8)] : 97 + Math.floor(rnd() * (1 + (seed % 20)));
    return b;
  }

  it.each([
    { name: 'empty', input: Buffer.alloc(0) },
    { name: 'one byte', input: Buffer.from('a') },
    { name: 'below the shortest block with a match', input: Buffer.alloc(16, 7) },
    { name: 'the shortest block with a match', input: Buffer.alloc(17, 7) },
    { name: 'long runs across 64 KiB blocks', input: Buffer.alloc(300_000, 1) },
    { name: 'incompressible', input: Buffer.from(Array.from({ length: 70_000 }, (_, i) => (Math.imul(i, 2654435761) >>> 24) & 0xff)) },
    { name: 'a repeated short pattern', input: Buffer.from('abcd'.repeat(50_000)) },
    ...[1, 2, 3, 7, 19].map((seed) => ({ name: `mixed text ${seed}`, input: mixed(150_000 + seed * 1000, seed) })),
  ])('is read back exactly by the native snappy decoder: $name', ({ input }) => {
    const c = snappyCompress(input);
    expect((snappy.uncompressSync(c, { asBuffer: true }) as Buffer).equals(input)).toBe(true);
    if (input.length > 1000) expect(c.length).toBeLessThan(input.length + input.length / 6 + 32);
  });

  it('compresses a remote_write request as well as the native library does', () => {
    const timeseries = Array.from({ length: 3000 }, (_, i) => ({ labels: ls({ __name__: 'container_memory_rss', namespace: 'kube-system', pod: `pod-${i % 300}`, container: `c-${i}`, node: 'node-1' }), samples: [{ t: 1_700_000_000_000, v: i * 1024 }] }));
    const raw = encodeWriteRequest({ timeseries });
    const ours = snappyCompress(raw);
    const native = snappy.compressSync(raw);
    expect(ours.length).toBeLessThanOrEqual(native.length * 1.05);
    expect(decodeWriteRequestBody(ours)).toEqual({ timeseries });
  });

  it('compresses a push body block by block exactly as the whole request at once, series of any size', () => {
    const timeseries = Array.from({ length: 2500 }, (_, i) => ({
      labels: ls({ __name__: 'm', pod: `p-${i}`, pad: i === 1200 ? 'z'.repeat(200_000) : 'q'.repeat(i % 300) }),
      samples: [{ t: 1_700_000_000_000 + i, v: i }],
    }));
    const req: WriteRequest = { timeseries, metadata: [{ type: 2, metricFamilyName: 'm', help: 'h'.repeat(70_000), unit: '' }] };
    const raw = encodeWriteRequest(req);
    expect(raw.length).toBeGreaterThan(5 * 65_536);
    for (let i = 0; i < 2; i++) expect(encodeWriteRequestBody(req).equals(snappyCompress(raw))).toBe(true);
    expect(decodeWriteRequestBody(encodeWriteRequestBody(req))).toEqual(req);
  });

  it('returns a buffer of its own: a later call does not change an earlier result', () => {
    const a = snappyCompress(Buffer.from('first '.repeat(100)));
    const copy = Buffer.from(a);
    snappyCompress(Buffer.from('second '.repeat(1000)));
    expect(a.equals(copy)).toBe(true);
  });
});

describe('packed series', () => {
  const series = [
    { labels: ls({ __name__: 'up', job: 'a', pod: 'ü-1' }), samples: [{ t: 1_700_000_000_000, v: 1 }] },
    { labels: ls({ __name__: 'up', job: 'a', pod: 'p2' }), samples: [{ t: 1_699_999_999_000, v: 2 }, { t: 1_700_000_000_000, v: 3 }] },
    { labels: ls({ __name__: 'gone', job: 'a' }), samples: [{ t: 1_700_000_000_000, v: STALE_NAN }] },
    { labels: ls({ __name__: 'zero_time' }), samples: [{ t: 0, v: -1.5 }] },
  ];

  /** Each series' labels split after its first label (head) and the rest (tail), among junk bytes. */
  function pack(): PackedSeries {
    const chunks: Buffer[] = [Buffer.from('junk')];
    let p = 4;
    const at = () => p;
    const put = (b: Buffer) => {
      chunks.push(b, Buffer.from('--'));
      p += b.length + 2;
    };
    const n = series.length;
    const [headStart, headEnd, tailStart, tailEnd] = [0, 0, 0, 0].map(() => new Int32Array(n));
    series.forEach((s, i) => {
      tailStart[i] = at();
      put(encodeLabels(s.labels.slice(1)));
      tailEnd[i] = at() - 2;
      headStart[i] = at();
      put(encodeLabels(s.labels.slice(0, 1)));
      headEnd[i] = at() - 2;
    });
    const t = Float64Array.from(series, (s) => s.samples[0].t);
    const v = Float64Array.from(series, (s) => s.samples[0].v);
    return { count: n, arena: Buffer.concat(chunks), headStart, headEnd, tailStart, tailEnd, t, v, more: new Map([[1, series[1].samples]]) };
  }

  it('encodes label sets that decode to themselves', () => {
    for (const s of series) {
      const b = encodeLabels(s.labels);
      expect(decodeLabels(b, 0, b.length)).toEqual(s.labels);
    }
    expect(() => decodeLabels(Buffer.from([0x12, 0x00]), 0, 2)).toThrow(WireFormatError);
  });

  it('encodes to the same bytes as the same series as objects, for any range, with metadata', () => {
    const p = pack();
    const metadata = [{ type: 1 as const, metricFamilyName: 'up', help: 'Up.', unit: '' }];
    for (const [from, to] of [[0, 4], [1, 3], [2, 2], [3, 4]]) {
      const meta = from === 0 ? metadata : [];
      const packed = encodePackedWriteRequestBody(p, from, to, meta);
      expect(packed.equals(encodeWriteRequestBody({ timeseries: series.slice(from, to), metadata: meta }))).toBe(true);
    }
    const back = decodeWriteRequestBody(encodePackedWriteRequestBody(p, 0, 4));
    expect(isStaleNaN(back.timeseries[2].samples[0].v)).toBe(true);
    expect(back.timeseries.map((s) => s.labels)).toEqual(series.map((s) => s.labels));
    expect(series.map((_, i) => packedLabels(p, i))).toEqual(series.map((s) => s.labels));
  });

  it('hands out a transient view of its buffer only when asked, and the same bytes', () => {
    const p = pack();
    const owned = encodePackedWriteRequestBody(p, 0, 4);
    const view = encodePackedWriteRequestBody(p, 0, 4, [], { transient: true });
    expect(view.equals(owned)).toBe(true);
    const copy = Buffer.from(view);
    encodePackedWriteRequestBody(p, 1, 2);
    expect(owned.equals(copy)).toBe(true);
  });
});
