import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import snappy from 'snappy';
import {
  decodeWriteRequest,
  decodeWriteRequestBody,
  encodeWriteRequest,
  encodeWriteRequestBody,
  snappyDecompress,
  WireFormatError,
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
