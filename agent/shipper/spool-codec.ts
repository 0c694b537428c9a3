/**
 * The dense format of compacted spool records. A remote_write body repeats every
 * series' labels with each sample and spends 8 bytes on each value and ~6 on each
 * timestamp; a segment spooled during an outage holds many samples of the same series,
 * so compaction stores each series once, its timestamps as deltas of deltas and its
 * values XORed with the previous value (byte-granular Gorilla: a header byte with the
 * counts of leading and trailing zero bytes, then the bytes between), the whole record
 * deflated. Records are turned back into ordinary remote_write requests when sent.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Label, MetricMetadata, Sample, TimeSeries } from '../../shared/index.js';
import { decodeWriteRequest, encodeWriteRequest } from '../../shared/index.js';

const VERSION = 1;

class Out {
  private buf = Buffer.allocUnsafe(1 << 16);
  len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  uvarint(n: number): void {
    this.ensure(10);
    while (n >= 0x80) {
      this.buf[this.len++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.len++] = n;
  }
  /** Zigzag, exact for |n| < 2^52. */
  svarint(n: number): void {
    this.uvarint(n >= 0 ? n * 2 : -n * 2 - 1);
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.uvarint(b.length);
    this.bytes(b);
  }
  done(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

class In {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  byte(): number {
    if (this.pos >= this.buf.length) throw new Error('spool record truncated');
    return this.buf[this.pos++];
  }
  uvarint(): number {
    let n = 0;
    let mul = 1;
    for (;;) {
      const b = this.byte();
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 0x80;
    }
  }
  svarint(): number {
    const z = this.uvarint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }
  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new Error('spool record truncated');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  string(): string {
    return this.bytes(this.uvarint()).toString('utf8');
  }
}

const f64 = new Float64Array(1);
const u8 = new Uint8Array(f64.buffer);
// Big-endian view of the value's bits so leading bytes are the sign/exponent end.
function bitsOf(v: number, into: Uint8Array): void {
  f64[0] = v;
  for (let i = 0; i < 8; i++) into[i] = u8[7 - i];
}
function valueOf(bits: Uint8Array): number {
  for (let i = 0; i < 8; i++) u8[7 - i] = bits[i];
  return f64[0];
}

/** Encodes series (each with samples in time order) and metadata densely. */
export function encodeDense(series: ReadonlyArray<{ labels: readonly Label[]; samples: readonly Sample[] }>, metadata: readonly MetricMetadata[]): Buffer {
  const o = new Out();
  o.byte(VERSION);
  const md = encodeWriteRequest({ timeseries: [], metadata: [...metadata] });
  o.uvarint(md.length);
  o.bytes(md);
  o.uvarint(series.length);
  const prev = new Uint8Array(8);
  const cur = new Uint8Array(8);
  const x = new Uint8Array(8);
  for (const s of series) {
    o.uvarint(s.labels.length);
    for (const l of s.labels) {
      o.string(l.name);
      o.string(l.value);
    }
    o.uvarint(s.samples.length);
    let pt = 0;
    let pd = 0;
    prev.fill(0);
    for (let i = 0; i < s.samples.length; i++) {
      const { t, v } = s.samples[i];
      const d = t - pt;
      o.svarint(i === 0 ? t : d - pd);
      pd = i === 0 ? 0 : d;
      pt = t;
      bitsOf(v, cur);
      for (let k = 0; k < 8; k++) x[k] = cur[k] ^ prev[k];
      let lead = 0;
      while (lead < 8 && x[lead] === 0) lead++;
      if (lead === 8) {
        o.byte(0x80);
      } else {
        let trail = 0;
        while (x[7 - trail] === 0) trail++;
        o.byte((lead << 4) | trail);
        o.bytes(x.subarray(lead, 8 - trail));
      }
      prev.set(cur);
    }
  }
  return deflateRawSync(o.done(), { level: 6 });
}

/** Decodes {@link encodeDense}; throws on a damaged record. */
export function decodeDense(buf: Buffer, maxBytes = 512 * 1024 * 1024): { timeseries: TimeSeries[]; metadata: MetricMetadata[] } {
  const r = new In(inflateRawSync(buf, { maxOutputLength: maxBytes }));
  if (r.byte() !== VERSION) throw new Error('unknown spool record version');
  const md = decodeWriteRequest(r.bytes(r.uvarint())).metadata ?? [];
  const n = r.uvarint();
  const timeseries: TimeSeries[] = [];
  const prev = new Uint8Array(8);
  for (let s = 0; s < n; s++) {
    const labels: Label[] = [];
    for (let k = r.uvarint(); k > 0; k--) labels.push({ name: r.string(), value: r.string() });
    const m = r.uvarint();
    const samples: Sample[] = [];
    let pt = 0;
    let pd = 0;
    prev.fill(0);
    for (let i = 0; i < m; i++) {
      const z = r.svarint();
      const t = i === 0 ? z : pt + pd + z;
      pd = i === 0 ? 0 : t - pt;
      pt = t;
      const h = r.byte();
      if (h !== 0x80) {
        const lead = h >> 4;
        const trail = h & 0x0f;
        if (lead + trail >= 8) throw new Error('damaged spool record');
        const b = r.bytes(8 - lead - trail);
        for (let k = 0; k < b.length; k++) prev[lead + k] ^= b[k];
      }
      samples.push({ t, v: valueOf(prev) });
    }
    timeseries.push({ labels, samples });
  }
  return { timeseries, metadata: md };
}
