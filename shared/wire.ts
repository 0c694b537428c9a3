/**
 * Prometheus remote_write 1.0 wire format: protobuf `prometheus.WriteRequest`
 * (prompb/remote.proto, prompb/types.proto) in snappy block compression.
 *
 * The message shapes are few and fixed, so they are walked with protobufjs's minimal
 * Reader/Writer instead of a reflected schema: decoding lands directly in our `Labels`
 * and `Sample` shapes with no intermediate objects and no Long values.
 */
import protobuf from 'protobufjs/minimal.js';
import snappy from 'snappy';
import type { Label, Labels } from './labels.js';
import type { Sample, TimeSeries } from './samples.js';
import { KubepulseError } from './errors.js';

// int64 fields decode to JS numbers (exact up to 2^53 ms, i.e. the year 287396).
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

const { Reader } = protobuf;

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
    p += labelBytes[si].copy(buf, p);
    for (const smp of series[si].samples) {
      buf[p++] = (2 << 3) | 2;
      buf[p++] = sampleLen(smp.t); // at most 20, one byte
      // Always written, even 0: the double's bytes are copied as they are, so a stale
      // marker keeps its payload.
      buf[p++] = (1 << 3) | 1;
      p = buf.writeDoubleLE(smp.v, p);
      if (smp.t !== 0) {
        buf[p++] = (2 << 3) | 0;
        p = writeInt64(buf, p, smp.t);
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
  return 9 + (t !== 0 ? 1 + int64Len(t) : 0);
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

/** Decodes an uncompressed protobuf WriteRequest. */
export function decodeWriteRequest(buf: Uint8Array): WriteRequest {
  const r = Reader.create(buf);
  const timeseries: TimeSeries[] = [];
  const metadata: MetricMetadata[] = [];
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      switch (tag) {
        case (1 << 3) | 2:
          timeseries.push(decodeTimeSeries(r, r.uint32()));
          break;
        case (3 << 3) | 2:
          metadata.push(decodeMetadata(r, r.uint32()));
          break;
        default:
          r.skipType(tag & 7);
      }
    }
  } catch (err) {
    if (err instanceof WireFormatError) throw err;
    throw new WireFormatError(`protobuf: invalid WriteRequest: ${(err as Error).message}`, { cause: err });
  }
  return metadata.length ? { timeseries, metadata } : { timeseries };
}

function end(r: protobuf.Reader, len: number): number {
  const e = r.pos + len;
  if (e > r.len) throw new WireFormatError(`protobuf: invalid WriteRequest: length ${len} runs past the end of the message`);
  return e;
}

function decodeTimeSeries(r: protobuf.Reader, len: number): TimeSeries {
  const e = end(r, len);
  const labels: Label[] = [];
  const samples: Sample[] = [];
  while (r.pos < e) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | 2)) {
      labels.push(decodeLabel(r, r.uint32()));
    } else if (tag === ((2 << 3) | 2)) {
      const se = end(r, r.uint32());
      let v = 0;
      let t = 0;
      while (r.pos < se) {
        const st = r.uint32();
        if (st === ((1 << 3) | 1)) v = r.double();
        else if (st === ((2 << 3) | 0)) t = r.int64() as unknown as number;
        else r.skipType(st & 7);
      }
      samples.push({ t, v });
    } else if (tag === ((4 << 3) | 2)) {
      throw new WireFormatError('native histograms are not supported: send float samples');
    } else {
      r.skipType(tag & 7); // exemplars and unknown fields
    }
  }
  if (r.pos !== e) throw new WireFormatError('protobuf: invalid WriteRequest: field overruns its series');
  return { labels, samples };
}

function decodeLabel(r: protobuf.Reader, len: number): Label {
  const e = end(r, len);
  let name = '';
  let value = '';
  while (r.pos < e) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | 2)) name = readUtf8(r);
    else if (tag === ((2 << 3) | 2)) value = readUtf8(r);
    else r.skipType(tag & 7);
  }
  return { name, value };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readUtf8(r: protobuf.Reader): string {
  const bytes = r.bytes();
  // Pure ASCII is the common case and decodes without validation cost.
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return latin1(bytes);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new WireFormatError('protobuf: invalid WriteRequest: label is not valid UTF-8');
  }
}

function latin1(bytes: Uint8Array): string {
  if (bytes.length < 64) {
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return s;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

function decodeMetadata(r: protobuf.Reader, len: number): MetricMetadata {
  const e = end(r, len);
  const m: MetricMetadata = { type: 0, metricFamilyName: '', help: '', unit: '' };
  while (r.pos < e) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | 0:
        m.type = r.int32() as MetricType;
        break;
      case (2 << 3) | 2:
        m.metricFamilyName = readUtf8(r);
        break;
      case (4 << 3) | 2:
        m.help = readUtf8(r);
        break;
      case (5 << 3) | 2:
        m.unit = readUtf8(r);
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return m;
}

/** Decompresses and decodes a push body. */
export function decodeWriteRequestBody(body: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): WriteRequest {
  return decodeWriteRequest(snappyDecompress(body, limits));
}
