/**
 * Prometheus remote_write 1.0 wire format: protobuf `prometheus.WriteRequest`
 * (prompb/remote.proto, prompb/types.proto) in snappy block compression.
 *
 * The message shapes are few and fixed, so the codec is written out by hand instead of
 * going through protobufjs: its per-field allocations (a forking Writer, a Buffer per
 * string, Long values for int64) cost several times the work of the TSDB append on the
 * ingest path and dominated the agent's CPU per tick (test/bench/results/sampler.md).
 * Decoding lands directly in our `Labels` and `Sample` shapes.
 */
import snappy from 'snappy';
import type { Label, Labels } from './labels.js';
import type { Sample, TimeSeries } from './samples.js';
import { KubepulseError } from './errors.js';

export const REMOTE_WRITE_CONTENT_TYPE = 'application/x-protobuf';
export const REMOTE_WRITE_VERSION = '0.1.0';

/** prompb.MetricMetadata.MetricType */
export const MetricType = {
  UNKNOWN: 0,
  COUNTER: 1,
  GAUGE: 2,
  HISTOGRAM: 3,
  GAUGEHISTOGRAM: 4,
  SUMMARY: 5,
  INFO: 6,
  STATESET: 7,
} as const;
export type MetricType = (typeof MetricType)[keyof typeof MetricType];

export interface MetricMetadata {
  type: MetricType;
  metricFamilyName: string;
  help: string;
  unit: string;
}

export interface WriteRequest {
  timeseries: TimeSeries[];
  metadata?: MetricMetadata[];
}

/** Raised for any body that is not a well-formed remote_write request. */
export class WireFormatError extends KubepulseError {
  constructor(message: string, options?: ErrorOptions) {
    super('KP_ERR_WIRE_FORMAT', message, options);
  }
}

// ---- encode ----------------------------------------------------------------------

/**
 * Encodes a WriteRequest as protobuf (uncompressed).
 *
 * Two passes over the request: sizes first, then bytes into one buffer. This avoids the
 * per-field allocations of a forking writer, which dominated the agent's CPU per tick.
 */
export function encodeWriteRequest(req: WriteRequest): Uint8Array {
  const series = req.timeseries;
  // Pass 1: sizes. A series' label fields are encoded once and cached by the identity
  // of its Labels array: the agent sends the same label sets every tick.
  const sizes: number[] = [];
  const labelBytes: Buffer[] = [];
  let total = 0;
  for (const ts of series) {
    const lb = encodedLabels(ts.labels);
    labelBytes.push(lb);
    let tsLen = lb.length;
    for (const smp of ts.samples) tsLen += 2 + sampleLen(smp.t);
    sizes.push(tsLen);
    total += 1 + varintLen(tsLen) + tsLen;
  }
  const meta = req.metadata ?? [];
  const metaSizes: number[] = [];
  for (const m of meta) {
    let n = 0;
    if (m.type !== 0) n += 1 + varintLen(m.type);
    if (m.metricFamilyName) n += 1 + varintLen(strLen(m.metricFamilyName)) + strLen(m.metricFamilyName);
    if (m.help) n += 1 + varintLen(strLen(m.help)) + strLen(m.help);
    if (m.unit) n += 1 + varintLen(strLen(m.unit)) + strLen(m.unit);
    metaSizes.push(n);
    total += 1 + varintLen(n) + n;
  }

  // Pass 2: the bytes.
  const buf = Buffer.allocUnsafe(total);
  let p = 0;
  for (let si = 0; si < series.length; si++) {
    buf[p++] = (1 << 3) | 2;
    p = writeVarint(buf, p, sizes[si]);
    // TypedArray#set, not Buffer#copy: a builtin, where copy crosses into C++ per call.
    buf.set(labelBytes[si], p);
    p += labelBytes[si].length;
    for (const smp of series[si].samples) {
      buf[p++] = (2 << 3) | 2;
      buf[p++] = sampleLen(smp.t); // at most 20, one byte
      // Always written, even 0: the double's bytes are copied as they are, so a stale
      // marker keeps its payload.
      buf[p++] = (1 << 3) | 1;
      p = buf.writeDoubleLE(smp.v, p);
      if (smp.t !== 0) {
        buf[p++] = (2 << 3) | 0;
        p = writeTimestamp(buf, p, smp.t);
      }
    }
  }
  for (let mi = 0; mi < meta.length; mi++) {
    const m = meta[mi];
    buf[p++] = (3 << 3) | 2;
    p = writeVarint(buf, p, metaSizes[mi]);
    if (m.type !== 0) {
      buf[p++] = (1 << 3) | 0;
      p = writeVarint(buf, p, m.type);
    }
    if (m.metricFamilyName) p = writeStr(buf, p, 2, m.metricFamilyName);
    if (m.help) p = writeStr(buf, p, 4, m.help);
    if (m.unit) p = writeStr(buf, p, 5, m.unit);
  }
  if (p !== total) throw new Error(`remote_write encoder: wrote ${p} bytes, expected ${total}`);
  return buf;
}

/** Bytes of a Sample message: the double, and the timestamp unless 0. */
function sampleLen(t: number): number {
  if (t === 0) return 9;
  if (t !== lastT) cacheTimestamp(t);
  return 10 + lastTBytes.length;
}

// The varint of the last timestamp seen: a batch's samples nearly all share the tick's.
let lastT = NaN;
let lastTBytes = Buffer.alloc(0);

function cacheTimestamp(t: number): void {
  const b = Buffer.allocUnsafe(int64Len(t));
  writeInt64(b, 0, t);
  lastT = t;
  lastTBytes = b;
}

function writeTimestamp(buf: Buffer, p: number, t: number): number {
  if (t !== lastT) cacheTimestamp(t);
  const b = lastTBytes;
  for (let i = 0; i < b.length; i++) buf[p++] = b[i];
  return p;
}

const labelCache = new WeakMap<Labels, Buffer>();

/** The `labels` fields (field 1, repeated Label) of a TimeSeries, cached per label set. */
function encodedLabels(ls: Labels): Buffer {
  let b = labelCache.get(ls);
  if (b) return b;
  let total = 0;
  const lens: number[] = [];
  for (const l of ls) {
    const n = strLen(l.name);
    const v = strLen(l.value);
    const lLen = (n ? 1 + varintLen(n) + n : 0) + (v ? 1 + varintLen(v) + v : 0);
    lens.push(lLen);
    total += 1 + varintLen(lLen) + lLen;
  }
  b = Buffer.allocUnsafe(total);
  let p = 0;
  for (let i = 0; i < ls.length; i++) {
    b[p++] = (1 << 3) | 2;
    p = writeVarint(b, p, lens[i]);
    if (ls[i].name !== '') p = writeStr(b, p, 1, ls[i].name);
    if (ls[i].value !== '') p = writeStr(b, p, 2, ls[i].value);
  }
  labelCache.set(ls, b);
  return b;
}

/** UTF-8 length of a string; the ASCII common case costs one scan. */
function strLen(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

function varintLen(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function writeVarint(buf: Buffer, p: number, n: number): number {
  while (n >= 0x80) {
    buf[p++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[p++] = n;
  return p;
}

/** Varint length of an int64 held in a JS number (negative: 10 bytes, two's complement). */
function int64Len(n: number): number {
  if (n < 0) return 10;
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeInt64(buf: Buffer, p: number, n: number): number {
  if (n < 0) {
    let b = BigInt.asUintN(64, BigInt(Math.trunc(n)));
    for (let i = 0; i < 9; i++) {
      buf[p++] = Number(b & 0x7fn) | 0x80;
      b >>= 7n;
    }
    buf[p++] = Number(b);
    return p;
  }
  while (n >= 128) {
    buf[p++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[p++] = n;
  return p;
}

function writeStr(buf: Buffer, p: number, field: number, s: string): number {
  buf[p++] = (field << 3) | 2;
  const n = strLen(s);
  p = writeVarint(buf, p, n);
  buf.write(s, p, n, n === s.length ? 'latin1' : 'utf8');
  return p + n;
}

/** Encodes and snappy-compresses a WriteRequest: the HTTP body of a push. */
export function encodeWriteRequestBody(req: WriteRequest): Buffer {
  return snappy.compressSync(encodeWriteRequest(req));
}

// ---- decode ----------------------------------------------------------------------

/** Limits applied while decoding, so a hostile body cannot allocate without bound. */
export interface DecodeLimits {
  /** Largest decompressed size accepted, bytes. */
  maxDecompressedBytes: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxDecompressedBytes: 256 * 1024 * 1024 };

/**
 * Length that a snappy block claims to decompress to (its leading varint), read without
 * decompressing, so oversized bodies are refused before any allocation.
 */
export function snappyDecodedLength(buf: Uint8Array): number {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5 && i < buf.length; i++) {
    const b = buf[i];
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return result;
    shift += 7;
  }
  throw new WireFormatError('snappy: corrupt input: bad length header');
}

/** Snappy block decompression with a size limit. */
export function snappyDecompress(body: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Buffer {
  if (body.length === 0) throw new WireFormatError('snappy: empty body');
  const n = snappyDecodedLength(body);
  if (n > limits.maxDecompressedBytes) {
    throw new WireFormatError(
      `snappy: decompressed size ${n} bytes exceeds the limit of ${limits.maxDecompressedBytes} bytes`,
    );
  }
  try {
    return snappy.uncompressSync(body, { asBuffer: true }) as Buffer;
  } catch (err) {
    throw new WireFormatError(`snappy: corrupt input: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Decodes an uncompressed protobuf WriteRequest.
 *
 * A direct walk over the bytes: strings are sliced straight out of the buffer (latin1
 * for the ASCII common case, fatal UTF-8 otherwise), numbers read in place. Every length
 * is checked against its enclosing message before it is used.
 */
export function decodeWriteRequest(buf: Uint8Array): WriteRequest {
  const d = new Decoder(buf);
  const timeseries: TimeSeries[] = [];
  const metadata: MetricMetadata[] = [];
  const end = buf.length;
  while (d.p < end) {
    const tag = d.varint32();
    if (tag === ((1 << 3) | 2)) timeseries.push(d.timeSeries(d.sub(end)));
    else if (tag === ((3 << 3) | 2)) metadata.push(d.metadata(d.sub(end)));
    else d.skip(tag, end);
  }
  return metadata.length ? { timeseries, metadata } : { timeseries };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function invalid(why: string): WireFormatError {
  return new WireFormatError(`protobuf: invalid WriteRequest: ${why}`);
}

class Decoder {
  p = 0;
  private readonly b: Buffer;

  constructor(buf: Uint8Array) {
    this.b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** A varint that must fit 32 bits (tags, lengths, enums). */
  varint32(): number {
    const b = this.b;
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.p >= b.length) throw invalid('truncated varint');
      const byte = b[this.p++];
      if (shift < 32) result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (result > 0xffffffff) throw invalid('varint out of range');
        return result;
      }
      shift += 7;
    }
    throw invalid('varint longer than 10 bytes');
  }

  /** An int64 varint as a JS number (exact up to 2^53; two's complement for negatives). */
  int64(): number {
    const b = this.b;
    let result = 0;
    let mul = 1;
    const start = this.p;
    for (let i = 0; i < 10; i++) {
      if (this.p >= b.length) throw invalid('truncated varint');
      const byte = b[this.p++];
      result += (byte & 0x7f) * mul;
      mul *= 128;
      if ((byte & 0x80) === 0) {
        if (i === 9) {
          // Ten bytes: a negative int64.
          let big = 0n;
          for (let j = 9; j >= 0; j--) big = (big << 7n) | BigInt(b[start + j] & 0x7f);
          return Number(BigInt.asIntN(64, big));
        }
        return result;
      }
    }
    throw invalid('varint longer than 10 bytes');
  }

  /** Reads a length prefix and returns the end of the sub-message it announces. */
  sub(limit: number): number {
    const len = this.varint32();
    const e = this.p + len;
    if (e > limit) throw invalid(`length ${len} runs past the end of its message`);
    return e;
  }

  skip(tag: number, limit: number): void {
    switch (tag & 7) {
      case 0:
        this.int64();
        break;
      case 1:
        this.p += 8;
        break;
      case 2:
        this.p = this.sub(limit);
        break;
      case 5:
        this.p += 4;
        break;
      default:
        throw invalid(`unsupported wire type ${tag & 7}`);
    }
    if (this.p > limit) throw invalid('field runs past the end of its message');
  }

  string(limit: number): string {
    const e = this.sub(limit);
    const b = this.b;
    const s = this.p;
    this.p = e;
    for (let i = s; i < e; i++) if (b[i] > 0x7f) return this.utf8(s, e);
    return b.toString('latin1', s, e);
  }

  private utf8(s: number, e: number): string {
    try {
      return utf8.decode(this.b.subarray(s, e));
    } catch {
      throw invalid('label is not valid UTF-8');
    }
  }

  timeSeries(e: number): TimeSeries {
    const labels: Label[] = [];
    const samples: Sample[] = [];
    while (this.p < e) {
      const tag = this.varint32();
      if (tag === ((1 << 3) | 2)) {
        const le = this.sub(e);
        let name = '';
        let value = '';
        while (this.p < le) {
          const lt = this.varint32();
          if (lt === ((1 << 3) | 2)) name = this.string(le);
          else if (lt === ((2 << 3) | 2)) value = this.string(le);
          else this.skip(lt, le);
        }
        labels.push({ name, value });
      } else if (tag === ((2 << 3) | 2)) {
        const se = this.sub(e);
        let v = 0;
        let t = 0;
        while (this.p < se) {
          const st = this.varint32();
          if (st === ((1 << 3) | 1)) {
            if (this.p + 8 > se) throw invalid('truncated double');
            v = this.b.readDoubleLE(this.p);
            this.p += 8;
          } else if (st === ((2 << 3) | 0)) t = this.int64();
          else this.skip(st, se);
        }
        if (this.p !== se) throw invalid('sample overruns its message');
        samples.push({ t, v });
      } else if (tag === ((4 << 3) | 2)) {
        throw new WireFormatError('native histograms are not supported: send float samples');
      } else {
        this.skip(tag, e); // exemplars and unknown fields
      }
    }
    if (this.p !== e) throw invalid('field overruns its series');
    return { labels, samples };
  }

  metadata(e: number): MetricMetadata {
    const m: MetricMetadata = { type: 0, metricFamilyName: '', help: '', unit: '' };
    while (this.p < e) {
      const tag = this.varint32();
      if (tag === ((1 << 3) | 0)) m.type = this.varint32() as MetricType;
      else if (tag === ((2 << 3) | 2)) m.metricFamilyName = this.string(e);
      else if (tag === ((4 << 3) | 2)) m.help = this.string(e);
      else if (tag === ((5 << 3) | 2)) m.unit = this.string(e);
      else this.skip(tag, e);
    }
    return m;
  }
}

/** Decompresses and decodes a push body. */
export function decodeWriteRequestBody(body: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): WriteRequest {
  return decodeWriteRequest(snappyDecompress(body, limits));
}
