/**
 * Prometheus remote_write 1.0 wire format: protobuf `prometheus.WriteRequest`
 * (prompb/remote.proto, prompb/types.proto) in snappy block compression.
 *
 * The message shapes are few and fixed, so the codec is written out by hand instead of
 * going through protobufjs: its per-field allocations (a forking Writer, a Buffer per
 * string, Long values for int64) cost several times the work of the TSDB append on the
 * ingest path and dominated the agent's CPU per tick (test/bench/results/sampler.md).
 * Decoding lands directly in our `Labels` and `Sample` shapes.
 *
 * Compression is snappy's block format written in JS ({@link snappyCompress}); only
 * decompression uses the native `snappy` package, loaded on first use. The native
 * module brings its own allocator (mimalloc), which kept ~26 MB of the agent's RSS for
 * its per-push output buffers and never gave it back; the agent only compresses.
 */
import { createRequire } from 'node:module';
import type * as NativeSnappyModule from 'snappy';
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

/** Snappy compresses in blocks of this size, each on its own. */
const SNAPPY_BLOCK = 65536;

/**
 * Encodes a WriteRequest as protobuf (uncompressed).
 *
 * Two passes over the request: sizes first, then bytes into one buffer. This avoids the
 * per-field allocations of a forking writer, which dominated the agent's CPU per tick.
 */
export function encodeWriteRequest(req: WriteRequest): Uint8Array {
  return encodeTo(req, false);
}

/** Encodes and snappy-compresses a WriteRequest: the HTTP body of a push (a buffer of its own). */
export function encodeWriteRequestBody(req: WriteRequest): Buffer {
  return encodeTo(req, true);
}

function encodeTo(req: WriteRequest, compress: boolean): Buffer {
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
  total += metadataSize(meta);

  // Pass 2: the bytes.
  const w = writer.start(total, compress);
  for (let si = 0; si < series.length; si++) {
    const buf = w.room(6 + sizes[si]);
    let p = w.p;
    buf[p++] = (1 << 3) | 2;
    p = writeVarint(buf, p, sizes[si]);
    // TypedArray#set, not Buffer#copy: a builtin, where copy crosses into C++ per call.
    buf.set(labelBytes[si], p);
    p += labelBytes[si].length;
    for (const smp of series[si].samples) p = writeSample(buf, p, smp.t, smp.v);
    w.p = p;
  }
  const buf = w.room(metadataSize(meta));
  w.p = writeMetadata(buf, w.p, meta);
  return w.finish();
}

/**
 * Where the encoder's second pass writes: a buffer of the request's size, or, for a
 * push body, a 64 KiB-block stage that is snappy-compressed block by block as it fills
 * (snappy compresses each 64 KiB block on its own, so the result is the same as
 * compressing the whole request at once). A push never holds its uncompressed request
 * — megabytes on a full node — and the stage and the compression output are kept from
 * one push to the next instead of being off-heap garbage every tick.
 */
class BodyWriter {
  /** The buffer to write at `p`, as returned by {@link room}. */
  buf: Buffer = Buffer.alloc(0);
  p = 0;
  private compress = false;
  private total = 0;
  /** Bytes of the request before `buf[0]` (already compressed). */
  private flushed = 0;
  private stage = Buffer.allocUnsafe(2 * SNAPPY_BLOCK);
  private out = Buffer.allocUnsafe(0);
  private d = 0;

  start(total: number, compress: boolean): this {
    this.compress = compress;
    this.total = total;
    this.flushed = 0;
    this.p = 0;
    if (!compress) {
      this.buf = Buffer.allocUnsafe(total);
      return this;
    }
    const need = snappyMaxLength(total);
    // Grown to the largest push seen; only the pages a body is written to are touched.
    if (this.out.length < need) this.out = Buffer.allocUnsafe(Math.max(need, Math.ceil(this.out.length * 1.25)));
    this.d = writeVarint(this.out, 0, total);
    this.buf = this.stage;
    return this;
  }

  /** Makes room for `n` more bytes at `p`; returns the buffer to write them into. */
  room(n: number): Buffer {
    if (!this.compress) return this.buf;
    while (this.p >= SNAPPY_BLOCK) this.flushBlock();
    if (this.p + n > this.stage.length) {
      // One series larger than the stage (huge label values): a bigger stage.
      const bigger = Buffer.allocUnsafe(this.p + n + SNAPPY_BLOCK);
      bigger.set(this.stage.subarray(0, this.p));
      this.buf = this.stage = bigger;
    }
    return this.buf;
  }

  private flushBlock(): void {
    this.d = compressBlock(this.stage, 0, SNAPPY_BLOCK, this.out, this.d);
    this.stage.copyWithin(0, SNAPPY_BLOCK, this.p);
    this.p -= SNAPPY_BLOCK;
    this.flushed += SNAPPY_BLOCK;
  }

  /** The body; with `transient`, a view of the writer's buffer, valid until its next use. */
  finish(transient = false): Buffer {
    if (this.flushed + this.p !== this.total) throw new Error(`remote_write encoder: wrote ${this.flushed + this.p} bytes, expected ${this.total}`);
    if (!this.compress) return this.buf;
    while (this.p >= SNAPPY_BLOCK) this.flushBlock();
    if (this.p > 0) this.d = compressBlock(this.stage, 0, this.p, this.out, this.d);
    if (this.stage.length > 2 * SNAPPY_BLOCK) this.buf = this.stage = Buffer.allocUnsafe(2 * SNAPPY_BLOCK);
    const body = this.out.subarray(0, this.d);
    return transient ? body : Buffer.from(body);
  }
}

const writer = new BodyWriter();

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
  if (!b) labelCache.set(ls, (b = encodeLabels(ls)));
  return b;
}

/**
 * The `labels` fields (field 1, repeated Label) of a TimeSeries for a sorted label set:
 * the bytes a {@link PackedSeries} holds per series. {@link decodeLabels} reverses it.
 */
export function encodeLabels(ls: Labels): Buffer {
  let total = 0;
  const lens: number[] = [];
  for (const l of ls) {
    const n = strLen(l.name);
    const v = strLen(l.value);
    const lLen = (n ? 1 + varintLen(n) + n : 0) + (v ? 1 + varintLen(v) + v : 0);
    lens.push(lLen);
    total += 1 + varintLen(lLen) + lLen;
  }
  const b = Buffer.allocUnsafe(total);
  let p = 0;
  for (let i = 0; i < ls.length; i++) {
    b[p++] = (1 << 3) | 2;
    p = writeVarint(b, p, lens[i]);
    if (ls[i].name !== '') p = writeStr(b, p, 1, ls[i].name);
    if (ls[i].value !== '') p = writeStr(b, p, 2, ls[i].value);
  }
  return b;
}

/** The label set encoded as {@link encodeLabels} does in `buf[start, end)`. Throws {@link WireFormatError}. */
export function decodeLabels(buf: Uint8Array, start: number, end: number): Label[] {
  const d = new Decoder(buf);
  d.p = start;
  const out: Label[] = [];
  while (d.p < end) {
    const tag = d.varint32();
    if (tag !== ((1 << 3) | 2)) throw invalid(`unexpected field ${tag >>> 3} among labels`);
    out.push(d.label(d.sub(end)));
  }
  return out;
}

/**
 * Series in compact form, as the agent's sampler keeps them: no per-series objects.
 * Series `i`'s label fields ({@link encodeLabels} of its sorted label set) are the bytes
 * `arena[headStart[i], headEnd[i])` followed by `arena[tailStart[i], tailEnd[i])` — two
 * ranges, so that series sharing all labels but one (a pod's ~30 series) share one tail
 * — and its sample is `(t[i], v[i])`, or the samples in `more` when it has several.
 */
export interface PackedSeries {
  readonly count: number;
  readonly arena: Uint8Array;
  readonly headStart: Int32Array;
  readonly headEnd: Int32Array;
  readonly tailStart: Int32Array;
  readonly tailEnd: Int32Array;
  readonly t: Float64Array;
  readonly v: Float64Array;
  /** Series with more than one sample: all of them, by time. */
  readonly more: ReadonlyMap<number, readonly Sample[]> | undefined;
}

/** The label set of packed series `i`. */
export function packedLabels(p: PackedSeries, i: number): Label[] {
  const head = decodeLabels(p.arena, p.headStart[i], p.headEnd[i]);
  return p.tailEnd[i] > p.tailStart[i] ? head.concat(decodeLabels(p.arena, p.tailStart[i], p.tailEnd[i])) : head;
}

export interface PackedEncodeOptions {
  /**
   * Return a view of the encoder's own output buffer instead of a copy: valid only until
   * the next encode, for a caller that writes the body out at once (the disk spool) and
   * so saves a copy of every push.
   */
  transient?: boolean;
}

/**
 * Encodes series `[from, to)` of `p` (and `metadata`) as one WriteRequest and
 * snappy-compresses it: byte for byte what {@link encodeWriteRequestBody} gives for the
 * same series, without building them as objects.
 */
export function encodePackedWriteRequestBody(p: PackedSeries, from: number, to: number, metadata: readonly MetricMetadata[] = [], opts: PackedEncodeOptions = {}): Buffer {
  const { arena, headStart, headEnd, tailStart, tailEnd, t, more } = p;
  let total = metadataSize(metadata);
  for (let i = from; i < to; i++) {
    let len = headEnd[i] - headStart[i] + tailEnd[i] - tailStart[i];
    const ms = more?.get(i);
    if (ms) for (const smp of ms) len += 2 + sampleLen(smp.t);
    else len += 2 + sampleLen(t[i]);
    total += 1 + varintLen(len) + len;
  }
  const w = writer.start(total, true);
  for (let i = from; i < to; i++) {
    const hs = headStart[i];
    const he = headEnd[i];
    const ts = tailStart[i];
    const te = tailEnd[i];
    const ms = more?.get(i);
    let len = he - hs + te - ts;
    if (ms) for (const smp of ms) len += 2 + sampleLen(smp.t);
    else len += 2 + sampleLen(t[i]);
    const buf = w.room(6 + len);
    let q = w.p;
    buf[q++] = (1 << 3) | 2;
    q = writeVarint(buf, q, len);
    // The head is a few dozen bytes (the metric name): a byte loop. The tail, a few
    // hundred: TypedArray#set of a view, cheaper than the loop and than Buffer#copy's
    // call into C++.
    for (let j = hs; j < he; j++) buf[q++] = arena[j];
    if (te > ts) {
      buf.set(arena.subarray(ts, te), q);
      q += te - ts;
    }
    if (ms) for (const smp of ms) q = writeSample(buf, q, smp.t, smp.v);
    else q = writeSample(buf, q, t[i], p.v[i]);
    w.p = q;
  }
  const buf = w.room(metadataSize(metadata));
  w.p = writeMetadata(buf, w.p, metadata);
  return w.finish(opts.transient === true);
}

function writeSample(buf: Buffer, p: number, t: number, v: number): number {
  buf[p++] = (2 << 3) | 2;
  buf[p++] = sampleLen(t); // at most 20, one byte
  // Always written, even 0: the double's bytes are copied as they are, so a stale
  // marker keeps its payload.
  buf[p++] = (1 << 3) | 1;
  p = buf.writeDoubleLE(v, p);
  if (t !== 0) {
    buf[p++] = (2 << 3) | 0;
    p = writeTimestamp(buf, p, t);
  }
  return p;
}

function metadataLen(m: MetricMetadata): number {
  let n = 0;
  if (m.type !== 0) n += 1 + varintLen(m.type);
  if (m.metricFamilyName) n += 1 + varintLen(strLen(m.metricFamilyName)) + strLen(m.metricFamilyName);
  if (m.help) n += 1 + varintLen(strLen(m.help)) + strLen(m.help);
  if (m.unit) n += 1 + varintLen(strLen(m.unit)) + strLen(m.unit);
  return n;
}

function metadataSize(meta: readonly MetricMetadata[]): number {
  let total = 0;
  for (const m of meta) {
    const n = metadataLen(m);
    total += 1 + varintLen(n) + n;
  }
  return total;
}

function writeMetadata(buf: Buffer, p: number, meta: readonly MetricMetadata[]): number {
  for (const m of meta) {
    buf[p++] = (3 << 3) | 2;
    p = writeVarint(buf, p, metadataLen(m));
    if (m.type !== 0) {
      buf[p++] = (1 << 3) | 0;
      p = writeVarint(buf, p, m.type);
    }
    if (m.metricFamilyName) p = writeStr(buf, p, 2, m.metricFamilyName);
    if (m.help) p = writeStr(buf, p, 4, m.help);
    if (m.unit) p = writeStr(buf, p, 5, m.unit);
  }
  return p;
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

// ---- snappy block compression -------------------------------------------------------
// The format: the uncompressed length as a varint, then literals and back-references
// (github.com/google/snappy format_description.txt). The matcher is snappy's own: a hash
// table of 4-byte sequences per 64 KiB block, probing faster across incompressible runs.

const HASH_BITS = 14;
const hashTable = new Uint16Array(1 << HASH_BITS);

/** Largest snappy output for `n` input bytes (snappy's MaxCompressedLength). */
function snappyMaxLength(n: number): number {
  return 32 + n + Math.floor(n / 6);
}

/** Snappy block compression; any snappy decoder reads the result. */
export function snappyCompress(src: Uint8Array): Buffer {
  const dst = Buffer.allocUnsafe(snappyMaxLength(src.length));
  let d = writeVarint(dst, 0, src.length);
  for (let b = 0; b < src.length; b += SNAPPY_BLOCK) d = compressBlock(src, b, Math.min(b + SNAPPY_BLOCK, src.length), dst, d);
  return Buffer.from(dst.subarray(0, d));
}

function load32(s: Uint8Array, i: number): number {
  return s[i] | (s[i + 1] << 8) | (s[i + 2] << 16) | (s[i + 3] << 24);
}

function hash32(u: number, shift: number): number {
  return Math.imul(u, 0x1e35a7bd) >>> shift;
}

/** One block `src[start, end)` (at most 64 KiB, so offsets fit two bytes) into `dst` at `d`. */
function compressBlock(src: Uint8Array, start: number, end: number, dst: Uint8Array, d: number): number {
  const len = end - start;
  // Below this there is no room for a match and the 15-byte tail the matcher keeps clear.
  if (len < 17) return emitLiteral(dst, d, src, start, end);
  let bits = 8;
  while (bits < HASH_BITS && 1 << bits < len) bits++;
  const shift = 32 - bits;
  const table = hashTable;
  table.fill(0, 0, 1 << bits);
  const sLimit = end - 15;
  let nextEmit = start;
  let s = start + 1;
  let nextHash = hash32(load32(src, s), shift);
  for (;;) {
    // Look for a 4-byte match, stepping further apart the longer none is found.
    let skip = 32;
    let nextS = s;
    let candidate = 0;
    do {
      s = nextS;
      const step = skip >> 5;
      nextS = s + step;
      skip += step;
      if (nextS > sLimit) return nextEmit < end ? emitLiteral(dst, d, src, nextEmit, end) : d;
      candidate = start + table[nextHash];
      table[nextHash] = s - start;
      nextHash = hash32(load32(src, nextS), shift);
    } while (load32(src, s) !== load32(src, candidate));
    d = emitLiteral(dst, d, src, nextEmit, s);
    // Emit the match, and go on emitting while the next position matches too.
    for (;;) {
      const base = s;
      s += 4;
      let i = candidate + 4;
      while (s < end && src[i] === src[s]) {
        i++;
        s++;
      }
      d = emitCopy(dst, d, base - candidate, s - base);
      nextEmit = s;
      if (s >= sLimit) return nextEmit < end ? emitLiteral(dst, d, src, nextEmit, end) : d;
      table[hash32(load32(src, s - 1), shift)] = s - 1 - start;
      const h = hash32(load32(src, s), shift);
      candidate = start + table[h];
      table[h] = s - start;
      if (load32(src, s) !== load32(src, candidate)) {
        s++;
        nextHash = hash32(load32(src, s), shift);
        break;
      }
    }
  }
}

function emitLiteral(dst: Uint8Array, d: number, src: Uint8Array, from: number, to: number): number {
  const n = to - from - 1;
  if (n < 60) dst[d++] = n << 2;
  else if (n < 256) {
    dst[d++] = 60 << 2;
    dst[d++] = n;
  } else {
    dst[d++] = 61 << 2;
    dst[d++] = n & 0xff;
    dst[d++] = n >>> 8;
  }
  if (to - from < 16) for (let i = from; i < to; i++) dst[d++] = src[i];
  else {
    dst.set(src.subarray(from, to), d);
    d += to - from;
  }
  return d;
}

function emitCopy(dst: Uint8Array, d: number, offset: number, length: number): number {
  // Two-byte-offset copies carry at most 64 bytes; longer matches are split.
  while (length >= 68) {
    dst[d++] = (63 << 2) | 2;
    dst[d++] = offset & 0xff;
    dst[d++] = offset >>> 8;
    length -= 64;
  }
  if (length > 64) {
    dst[d++] = (59 << 2) | 2;
    dst[d++] = offset & 0xff;
    dst[d++] = offset >>> 8;
    length -= 60;
  }
  if (length >= 12 || offset >= 2048) {
    dst[d++] = ((length - 1) << 2) | 2;
    dst[d++] = offset & 0xff;
    dst[d++] = offset >>> 8;
  } else {
    dst[d++] = ((offset >>> 8) << 5) | ((length - 4) << 2) | 1;
    dst[d++] = offset & 0xff;
  }
  return d;
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
    return nativeSnappy().uncompressSync(body, { asBuffer: true }) as Buffer;
  } catch (err) {
    throw new WireFormatError(`snappy: corrupt input: ${(err as Error).message}`, { cause: err });
  }
}

type NativeSnappy = typeof NativeSnappyModule;
let native: NativeSnappy | undefined;

/** The native `snappy` package, loaded on the first decompression (the agent never needs it). */
function nativeSnappy(): NativeSnappy {
  return (native ??= createRequire(import.meta.url)('snappy') as NativeSnappy);
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

  /** A Label message ending at `le`. */
  label(le: number): Label {
    let name = '';
    let value = '';
    while (this.p < le) {
      const lt = this.varint32();
      if (lt === ((1 << 3) | 2)) name = this.string(le);
      else if (lt === ((2 << 3) | 2)) value = this.string(le);
      else this.skip(lt, le);
    }
    return { name, value };
  }

  timeSeries(e: number): TimeSeries {
    const labels: Label[] = [];
    const samples: Sample[] = [];
    while (this.p < e) {
      const tag = this.varint32();
      if (tag === ((1 << 3) | 2)) {
        labels.push(this.label(this.sub(e)));
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
