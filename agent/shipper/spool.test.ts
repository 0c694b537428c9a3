import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeWriteRequestBody, encodeWriteRequestBody, labelsFromObject, labelsKey } from '../../shared/index.js';
import { Spool, spoolDirBytes } from './spool.js';

/** One tick's request: `n` series of a node, one sample each at `t`. */
function tick(t: number, n = 50): { body: Buffer; samples: number } {
  const timeseries = [];
  for (let i = 0; i < n; i++) {
    timeseries.push({ labels: labelsFromObject({ __name__: 'node_cpu_seconds_total', cpu: String(i), mode: 'user', node: 'n1', job: 'node-exporter' }), samples: [{ t, v: t / 1000 + i }] });
  }
  return { body: encodeWriteRequestBody({ timeseries }), samples: n };
}

function contents(spool: Spool): string[] {
  const out: string[] = [];
  for (const r of spool.pending()) {
    for (const ts of decodeWriteRequestBody(spool.read(r)).timeseries) for (const s of ts.samples) out.push(`${labelsKey(ts.labels)} ${s.t} ${s.v}`);
  }
  return out.sort();
}

describe('Spool', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kp-spool-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps undelivered records across a restart and forgets delivered ones', () => {
    const a = new Spool({ dir, maxBytes: 1 << 20 });
    const recs = [0, 1, 2, 3].map((i) => {
      const { body, samples } = tick(1000 * i, 5);
      return a.append(body, samples, 1000 * i, 1000 * i);
    });
    a.ack(recs[0]);
    a.ack(recs[2]);
    const want = contents(a);
    expect(a.pendingRecords).toBe(2);
    // No close(): a SIGKILL leaves the files as they are.
    const b = new Spool({ dir, maxBytes: 1 << 20, compact: false });
    expect(b.pendingRecords).toBe(2);
    expect(b.pendingSamples).toBe(10);
    expect(contents(b)).toEqual(want);
    expect([...b.pending()].map((r) => r.minT)).toEqual([1000, 3000]);
    b.close();
  });

  it('skips a torn record at the tail of a segment (crash mid-write)', () => {
    const a = new Spool({ dir, maxBytes: 1 << 20 });
    for (let i = 0; i < 3; i++) a.append(tick(i * 1000, 5).body, 5, i * 1000, i * 1000);
    const seg = readdirSync(dir).find((f) => f.endsWith('.seg'))!;
    truncateSync(join(dir, seg), statSync(join(dir, seg)).size - 7);
    const b = new Spool({ dir, maxBytes: 1 << 20, compact: false });
    expect(b.pendingRecords).toBe(2);
    expect(contents(b)).toHaveLength(10);
  });

  it('drops the oldest segments when full and reports the samples lost', () => {
    let dropped = 0;
    const cap = 64 * 1024;
    const s = new Spool({ dir, maxBytes: cap, compact: false, onDrop: (n) => (dropped += n) });
    let appended = 0;
    let lastT = 0;
    for (let i = 0; i < 200; i++) {
      const { body, samples } = tick(i * 1000);
      s.append(body, samples, i * 1000, i * 1000);
      appended += samples;
      lastT = i * 1000;
    }
    expect(dropped).toBeGreaterThan(0);
    expect(s.pendingSamples + dropped).toBe(appended);
    expect(s.bytes).toBeLessThanOrEqual(cap + cap / 8);
    expect(spoolDirBytes(dir)).toBe(s.bytes);
    // What is left is the newest data, contiguous up to the last tick.
    const ts = [...s.pending()].map((r) => r.minT);
    expect(ts.at(-1)).toBe(lastT);
    for (let i = 1; i < ts.length; i++) expect(ts[i] - ts[i - 1]).toBe(1000);
  });

  it('compacts a sealed segment with nothing delivered, keeping every sample', async () => {
    const plain = new Spool({ dir: join(dir, 'plain'), maxBytes: 1 << 20, segmentBytes: 32 * 1024, compact: false });
    const compact = new Spool({ dir: join(dir, 'compact'), maxBytes: 1 << 20, segmentBytes: 32 * 1024 });
    for (let i = 0; i < 60; i++) {
      const { body, samples } = tick(i * 10_000);
      plain.append(body, samples, i * 10_000, i * 10_000);
      compact.append(body, samples, i * 10_000, i * 10_000);
    }
    await compact.idle();
    expect(contents(compact)).toEqual(contents(plain));
    expect(compact.pendingSamples).toBe(60 * 50);
    expect(compact.pendingRecords).toBeLessThan(plain.pendingRecords);
    expect(compact.bytes).toBeLessThan(plain.bytes * 0.7);
    // And the compacted files load back the same.
    const again = new Spool({ dir: join(dir, 'compact'), maxBytes: 1 << 20 });
    expect(contents(again)).toEqual(contents(plain));
  });

  it('abandons a compaction when a record of the segment is delivered meanwhile', async () => {
    const s = new Spool({ dir, maxBytes: 1 << 20, segmentBytes: 32 * 1024 });
    const first = s.append(tick(0).body, 50, 0, 0);
    for (let i = 1; i < 60; i++) s.append(tick(i * 10_000).body, 50, i * 10_000, i * 10_000);
    const before = s.pendingRecords;
    s.ack(first); // the collector answered while the segment waits for compaction
    await s.idle();
    expect(s.pendingRecords).toBe(before - 1);
    expect(contents(s)).toHaveLength(59 * 50);
  });

  it('deletes a sealed segment once every record in it is delivered', () => {
    const s = new Spool({ dir, maxBytes: 1 << 20, segmentBytes: 4096 });
    for (let i = 0; i < 40; i++) {
      const r = s.append(tick(i * 1000, 10).body, 10, i * 1000, i * 1000);
      s.ack(r);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg'))).toHaveLength(1);
    expect(s.pendingRecords).toBe(0);
  });

  it('works in memory without a directory', () => {
    let dropped = 0;
    const s = new Spool({ maxBytes: 16 * 1024, compact: false, onDrop: (n) => (dropped += n) });
    for (let i = 0; i < 50; i++) s.append(tick(i, 50).body, 50, i, i);
    expect(dropped).toBeGreaterThan(0);
    expect(s.pendingSamples + dropped).toBe(2500);
    for (const r of [...s.pending()]) s.ack(r);
    expect(s.pendingRecords).toBe(0);
  });

  it('lets go of a delivered body at once in memory, not when its whole segment is delivered', () => {
    const s = new Spool({ maxBytes: 1 << 20, segmentBytes: 512 * 1024, compact: false });
    const recs = Array.from({ length: 4 }, (_, i) => s.append(tick(i).body, 50, i, i));
    s.ack(recs[0]);
    s.ack(recs[1]);
    // The segment is still open (records 2 and 3 wait); only theirs are kept.
    expect(recs.map((r) => (r as unknown as { body?: Buffer }).body !== undefined)).toEqual([false, false, true, true]);
    expect(contents(s)).toEqual([...contentsOf(2), ...contentsOf(3)].sort());
  });
});

function contentsOf(t: number): string[] {
  return decodeWriteRequestBody(tick(t).body).timeseries.map((ts) => `${labelsKey(ts.labels)} ${t} ${ts.samples[0].v}`);
}
