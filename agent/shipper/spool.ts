/**
 * The shipper's spool: every push body (a snappy-compressed remote_write request) is
 * written here before its first send attempt and forgotten only once the collector has
 * answered 2xx, so a collector outage or an agent killed with SIGKILL loses nothing that
 * fits under the size cap.
 *
 * On disk, a spool is a directory of segment files `<seq>.seg`, each holding many
 * records (several ticks' requests), plus an append-only acknowledgement log
 * `<seq>.ack` of the record positions already delivered. A segment is deleted when it is
 * sealed and every record in it is acknowledged. A segment sealed while none of its
 * records has been delivered (an outage) is compacted: its requests are merged so that
 * each series' labels are stored once for many samples, which is what makes 24 hours of
 * a busy node fit in a few hundred MiB.
 *
 * Durability: records are written with `write(2)` and not fsync'd one by one — the page
 * cache survives a process crash (SIGKILL, OOM kill); only a kernel crash or power loss
 * can take the records written since the last seal. Sealed segments are fsync'd
 * (and so is every record with `fsync: true`). A torn record at a segment's tail (crash
 * mid-write) fails its CRC and is skipped on load.
 *
 * Without `dir` the same structure lives in memory (tests, `--spool-dir=''`).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger, MetricMetadata, Sample, TimeSeries } from '../../shared/index.js';
import { decodeWriteRequestBody, encodeWriteRequestBody, errorMessage, labelsKey, noopLogger } from '../../shared/index.js';
import { decodeDense, encodeDense } from './spool-codec.js';

/** One spooled request. Records are handed out by the spool; do not mutate them. */
export interface SpoolRecord {
  /** Increasing over the spool's life (and across restarts only in order, not in value). */
  readonly id: number;
  /** Samples in the request. */
  readonly samples: number;
  /** Oldest and newest sample timestamp in the request, ms. */
  readonly minT: number;
  readonly maxT: number;
  /** When this process appended it, ms; 0 for records loaded from disk. */
  readonly enqueuedAt: number;
  /** Body length, bytes. */
  readonly bytes: number;
}

export interface SpoolOptions {
  /** Directory of the segment files; created if missing. Absent: an in-memory spool. */
  dir?: string;
  /** Cap on the bytes the spool holds; beyond it the oldest segment is dropped. */
  maxBytes: number;
  /** A segment is sealed once it reaches this size. Default min(4 MiB, maxBytes / 8). */
  segmentBytes?: number;
  /** fsync every record (not just sealed segments). Default false. */
  fsync?: boolean;
  /** Merge the requests of a segment sealed with nothing delivered. Default true. */
  compact?: boolean;
  /** Largest merged request, in samples and in series. Defaults 20,000 and 5,000. */
  maxSamplesPerRecord?: number;
  maxSeriesPerRecord?: number;
  /** Called with the undelivered samples of a dropped segment. */
  onDrop?: (samples: number) => void;
  logger?: Logger;
  now?: () => number;
}

const MAGIC = Buffer.from('KPSPOOL1');
/** u32 body length, u32 crc32(body), u32 samples, u32 format, f64 minT, f64 maxT. */
const HEADER = 32;
/** Record formats: a snappy remote_write body as sent, or a compacted dense record. */
const FORMAT_REMOTE_WRITE = 0;
const FORMAT_DENSE = 1;

interface Rec extends SpoolRecord {
  seg: Segment;
  /** Position in its segment (what the ack log stores). */
  index: number;
  offset: number;
  acked: boolean;
  dead: boolean;
  format: number;
  /** In memory when the spool has no dir or the disk write failed. */
  body?: Buffer;
}

interface Segment {
  seq: number;
  records: Rec[];
  bytes: number;
  sealed: boolean;
  fd?: number;
  ackFd?: number;
  unacked: number;
}

/** A bounded, crash-safe FIFO of push bodies. Not safe for use by two processes at once. */
export class Spool {
  private readonly opts: SpoolOptions;
  private readonly log: Logger;
  private readonly segmentBytes: number;
  private readonly segments: Segment[] = [];
  private readonly now: () => number;
  private nextId = 1;
  private nextSeq = 1;
  private totalBytes = 0;
  private pendingCount = 0;
  private pendingSamplesCount = 0;
  private readonly diskFailed = new Set<string>();
  private compacting: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(opts: SpoolOptions) {
    if (!(opts.maxBytes >= 4096)) throw new Error(`spool size cap must be at least 4096 bytes, got ${opts.maxBytes}`);
    this.opts = opts;
    this.log = (opts.logger ?? noopLogger()).child({ component: 'spool' });
    this.segmentBytes = Math.max(1024, opts.segmentBytes ?? Math.min(4 * 1024 * 1024, Math.floor(opts.maxBytes / 8)));
    this.now = opts.now ?? Date.now;
    if (opts.dir) {
      mkdirSync(opts.dir, { recursive: true });
      this.load(opts.dir);
    }
  }

  /** Bytes held (segment files, or bodies in memory). */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Records not yet delivered. */
  get pendingRecords(): number {
    return this.pendingCount;
  }

  /** Samples not yet delivered. */
  get pendingSamples(): number {
    return this.pendingSamplesCount;
  }

  /** Undelivered records, oldest first. */
  *pending(): Iterable<SpoolRecord> {
    for (const s of this.segments) for (const r of s.records) if (!r.acked && !r.dead) yield r;
  }

  /** Whether `rec` is still waiting (not delivered, not dropped, not merged away). */
  isPending(rec: SpoolRecord): boolean {
    const r = rec as Rec;
    return !r.acked && !r.dead;
  }

  /**
   * Stores one request body; returns its record. When the cap is reached the oldest
   * segments are dropped first (reported through `onDrop`). Never throws for I/O: a
   * record the disk refuses is kept in memory and the failure logged. A `transient` body
   * (a buffer the caller reuses) is copied if it has to be kept in memory.
   */
  append(body: Buffer, samples: number, minT: number, maxT: number, transient = false): SpoolRecord {
    const need = body.length + HEADER;
    let head = this.segments.at(-1);
    if (!head || head.sealed || (head.bytes > MAGIC.length && head.bytes + need > this.segmentBytes)) {
      if (head && !head.sealed) this.seal(head);
      head = this.openSegment();
    }
    const rec: Rec = { id: this.nextId++, samples, minT, maxT, enqueuedAt: this.now(), bytes: body.length, seg: head, index: head.records.length, offset: head.bytes, acked: false, dead: false, format: FORMAT_REMOTE_WRITE };
    if (head.fd !== undefined) {
      try {
        const hdr = Buffer.alloc(HEADER);
        hdr.writeUInt32LE(body.length, 0);
        hdr.writeUInt32LE(crc32(body), 4);
        hdr.writeUInt32LE(samples, 8);
        hdr.writeDoubleLE(minT, 16);
        hdr.writeDoubleLE(maxT, 24);
        // Two writes, not a concatenated copy of every body: a crash between them leaves
        // a torn record, which its CRC rejects as it does any torn write.
        writeAll(head.fd, hdr);
        writeAll(head.fd, body);
        if (this.opts.fsync) fsyncSync(head.fd);
      } catch (err) {
        this.diskError('writing a spool record', err);
        rec.body = transient ? Buffer.from(body) : body;
      }
    } else {
      rec.body = transient ? Buffer.from(body) : body;
    }
    head.records.push(rec);
    head.bytes += need;
    head.unacked++;
    this.totalBytes += need;
    this.pendingCount++;
    this.pendingSamplesCount += samples;
    this.enforceCap(head);
    return rec;
  }

  /** The remote_write body (snappy) of a pending record. Throws if it cannot be read back. */
  read(rec: SpoolRecord): Buffer {
    const r = rec as Rec;
    const raw = this.readRaw(r);
    if (r.format === FORMAT_REMOTE_WRITE) return raw;
    return encodeWriteRequestBody(decodeDense(raw));
  }

  private readRaw(r: Rec): Buffer {
    if (r.body) return r.body;
    const fd = r.seg.fd ?? openSync(this.segPath(r.seg.seq), 'r');
    try {
      const buf = Buffer.alloc(r.bytes);
      const n = readSync(fd, buf, 0, r.bytes, r.offset + HEADER);
      if (n !== r.bytes) throw new Error(`short read: ${n} of ${r.bytes} bytes`);
      return buf;
    } finally {
      if (fd !== r.seg.fd) closeSync(fd);
    }
  }

  /** Marks a record delivered (or given up on). Idempotent; a no-op for records merged away. */
  ack(rec: SpoolRecord): void {
    const r = rec as Rec;
    if (r.acked || r.dead) return;
    r.acked = true;
    // Never read again: an in-memory spool would otherwise hold every delivered body
    // until its whole segment (up to 4 MiB) is delivered.
    r.body = undefined;
    this.pendingCount--;
    this.pendingSamplesCount -= r.samples;
    const seg = r.seg;
    seg.unacked--;
    if (seg.sealed && seg.unacked === 0) {
      this.removeSegment(seg);
      return;
    }
    if (this.opts.dir) {
      try {
        seg.ackFd ??= openSync(this.ackPath(seg.seq), 'a');
        const b = Buffer.alloc(4);
        b.writeUInt32LE(r.index, 0);
        writeAll(seg.ackFd, b);
      } catch (err) {
        // Only costs a duplicate resend after a restart.
        this.diskError('writing the spool acknowledgement log', err);
      }
    }
  }

  /** Seals the open segment and closes files. The spool must not be used afterwards. */
  close(): void {
    this.closed = true;
    const head = this.segments.at(-1);
    if (head && !head.sealed) this.seal(head, false);
    for (const s of this.segments) this.closeFds(s);
  }

  // ---- internals -------------------------------------------------------------------

  private segPath(seq: number): string {
    return join(this.opts.dir ?? '', `${String(seq).padStart(16, '0')}.seg`);
  }

  private ackPath(seq: number): string {
    return join(this.opts.dir ?? '', `${String(seq).padStart(16, '0')}.ack`);
  }

  private openSegment(): Segment {
    const seg: Segment = { seq: this.nextSeq++, records: [], bytes: MAGIC.length, sealed: false, unacked: 0 };
    if (this.opts.dir && !this.diskFailed.has('open')) {
      try {
        seg.fd = openSync(this.segPath(seg.seq), 'wx+');
        writeAll(seg.fd, MAGIC);
      } catch (err) {
        this.diskError('creating a spool segment', err);
        this.diskFailed.add('open');
      }
    }
    this.segments.push(seg);
    this.totalBytes += MAGIC.length;
    return seg;
  }

  private seal(seg: Segment, compact = true): void {
    seg.sealed = true;
    if (seg.fd !== undefined) {
      try {
        fsyncSync(seg.fd);
      } catch (err) {
        this.diskError('syncing a spool segment', err);
      }
    }
    if (seg.unacked === 0) {
      this.removeSegment(seg);
      return;
    }
    if (compact) this.scheduleCompaction(seg);
  }

  /**
   * Compaction runs in the background, one record per event-loop turn, so a busy
   * node's sampler is never held up for the seconds a big segment takes.
   */
  private scheduleCompaction(seg: Segment): void {
    if (this.opts.compact === false || seg.records.length <= 1 || seg.unacked !== seg.records.length) return;
    this.compacting = this.compacting.then(() =>
      this.compact(seg).catch((err: unknown) => {
        this.log.warn({ err: errorMessage(err), segment: seg.seq }, 'Could not compact a spool segment; keeping it as is');
      }),
    );
  }

  /** Resolves when background compaction has caught up (tests, benchmarks). */
  idle(): Promise<void> {
    return this.compacting;
  }

  /** Whether a segment can still be compacted: nothing delivered, dropped or closed meanwhile. */
  private compactable(seg: Segment, records: readonly Rec[]): boolean {
    return !this.closed && this.segments.includes(seg) && seg.records === records && records.every((r) => !r.acked && !r.dead);
  }

  /**
   * Rewrites a segment with nothing delivered as fewer, bigger requests: the samples of
   * each series are gathered across ticks, so its labels are stored once.
   */
  private async compact(seg: Segment): Promise<void> {
    const records = seg.records;
    const bySeries = new Map<string, { labels: TimeSeries['labels']; samples: Sample[] }>();
    const metadata = new Map<string, MetricMetadata>();
    for (const r of records) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (!this.compactable(seg, records)) return;
      const raw = this.readRaw(r);
      const wr = r.format === FORMAT_DENSE ? decodeDense(raw) : decodeWriteRequestBody(raw);
      for (const ts of wr.timeseries) {
        const key = labelsKey(ts.labels);
        const cur = bySeries.get(key);
        if (cur) cur.samples.push(...ts.samples);
        else bySeries.set(key, { labels: ts.labels, samples: [...ts.samples] });
      }
      for (const m of wr.metadata ?? []) metadata.set(m.metricFamilyName, m);
    }
    const maxSamples = this.opts.maxSamplesPerRecord ?? 20_000;
    const maxSeries = this.opts.maxSeriesPerRecord ?? 5_000;
    const outs: Array<{ body: Buffer; samples: number; minT: number; maxT: number }> = [];
    let cur: TimeSeries[] = [];
    let curSamples = 0;
    const flush = () => {
      if (cur.length === 0 && (outs.length > 0 || metadata.size === 0)) return;
      let minT = Infinity;
      let maxT = -Infinity;
      for (const ts of cur) for (const s of ts.samples) {
        if (s.t < minT) minT = s.t;
        if (s.t > maxT) maxT = s.t;
      }
      const md = outs.length === 0 ? [...metadata.values()] : [];
      outs.push({ body: encodeDense(cur, md), samples: curSamples, minT, maxT });
      cur = [];
      curSamples = 0;
    };
    for (const ts of bySeries.values()) {
      if (cur.length > 0 && (curSamples + ts.samples.length > maxSamples || cur.length >= maxSeries)) {
        flush();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      cur.push(ts);
      curSamples += ts.samples.length;
    }
    flush();
    if (!this.compactable(seg, records)) return;
    const before = seg.bytes;
    const newRecs: Rec[] = [];
    let offset = MAGIC.length;
    const parts: Buffer[] = [MAGIC];
    for (const o of outs) {
      const hdr = Buffer.alloc(HEADER);
      hdr.writeUInt32LE(o.body.length, 0);
      hdr.writeUInt32LE(crc32(o.body), 4);
      hdr.writeUInt32LE(o.samples, 8);
      hdr.writeUInt32LE(FORMAT_DENSE, 12);
      hdr.writeDoubleLE(o.minT, 16);
      hdr.writeDoubleLE(o.maxT, 24);
      parts.push(hdr, o.body);
      newRecs.push({ id: this.nextId++, samples: o.samples, minT: o.minT, maxT: o.maxT, enqueuedAt: 0, bytes: o.body.length, seg, index: newRecs.length, offset, acked: false, dead: false, format: FORMAT_DENSE });
      offset += HEADER + o.body.length;
    }
    const after = offset;
    if (after >= before) return;
    if (this.opts.dir !== undefined && seg.records.every((r) => !r.body)) {
      const tmp = this.segPath(seg.seq) + '.tmp';
      const fd = openSync(tmp, 'w');
      try {
        writeAll(fd, Buffer.concat(parts));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.segPath(seg.seq));
      this.closeFds(seg);
    } else {
      let i = 0;
      for (const o of outs) newRecs[i++].body = o.body;
    }
    let samplesBefore = 0;
    for (const r of seg.records) {
      r.dead = true;
      samplesBefore += r.samples;
    }
    const samplesAfter = newRecs.reduce((n, r) => n + r.samples, 0);
    this.pendingCount += newRecs.length - seg.records.length;
    this.pendingSamplesCount += samplesAfter - samplesBefore;
    seg.records = newRecs;
    seg.unacked = newRecs.length;
    seg.bytes = after;
    this.totalBytes += after - before;
  }

  private enforceCap(head: Segment): void {
    while (this.totalBytes > this.opts.maxBytes && this.segments.length > 0) {
      const oldest = this.segments[0];
      // The open segment stays: it holds the record just appended. Segments are at most
      // an eighth of the cap, so the cap is overshot by one segment at worst.
      if (oldest === head) return;
      let lost = 0;
      for (const r of oldest.records) {
        if (!r.acked && !r.dead) {
          lost += r.samples;
          r.dead = true;
          this.pendingCount--;
          this.pendingSamplesCount -= r.samples;
        }
      }
      this.removeSegment(oldest);
      if (lost > 0) {
        this.opts.onDrop?.(lost);
        this.log.warn({ dropped: lost, maxBytes: this.opts.maxBytes }, 'Spool full, dropping the oldest undelivered samples');
      }
    }
  }

  private removeSegment(seg: Segment): void {
    const i = this.segments.indexOf(seg);
    if (i < 0) return;
    this.segments.splice(i, 1);
    this.totalBytes -= seg.bytes;
    for (const r of seg.records) r.dead ||= !r.acked;
    this.closeFds(seg);
    if (this.opts.dir) {
      rmSync(this.segPath(seg.seq), { force: true });
      rmSync(this.ackPath(seg.seq), { force: true });
    }
  }

  private closeFds(seg: Segment): void {
    for (const fd of [seg.fd, seg.ackFd]) {
      if (fd === undefined) continue;
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    seg.fd = undefined;
    seg.ackFd = undefined;
  }

  private load(dir: string): void {
    const seqs = readdirSync(dir)
      .filter((f) => /^\d{16}\.seg$/.test(f))
      .map((f) => Number(f.slice(0, 16)))
      .sort((a, b) => a - b);
    for (const f of readdirSync(dir)) if (f.endsWith('.tmp')) rmSync(join(dir, f), { force: true });
    let torn = 0;
    for (const seq of seqs) {
      this.nextSeq = seq + 1;
      const path = this.segPath(seq);
      let buf: Buffer;
      try {
        buf = readFileSync(path);
      } catch (err) {
        this.diskError(`reading spool segment ${path}`, err);
        continue;
      }
      const acked = new Set<number>();
      try {
        const a = readFileSync(this.ackPath(seq));
        for (let i = 0; i + 4 <= a.length; i += 4) acked.add(a.readUInt32LE(i));
      } catch {
        // no acknowledgement log: nothing of this segment was delivered
      }
      const seg: Segment = { seq, records: [], bytes: buf.length, sealed: true, unacked: 0 };
      if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) {
        this.log.warn({ path }, 'Not a spool segment; removing it');
        rmSync(path, { force: true });
        continue;
      }
      let off = MAGIC.length;
      while (off + HEADER <= buf.length) {
        const len = buf.readUInt32LE(off);
        if (off + HEADER + len > buf.length) break;
        const body = buf.subarray(off + HEADER, off + HEADER + len);
        if (crc32(body) !== buf.readUInt32LE(off + 4)) break;
        const index = seg.records.length;
        const isAcked = acked.has(index);
        seg.records.push({ id: this.nextId++, samples: buf.readUInt32LE(off + 8), minT: buf.readDoubleLE(off + 16), maxT: buf.readDoubleLE(off + 24), enqueuedAt: 0, bytes: len, seg, index, offset: off, acked: isAcked, dead: false, format: buf.readUInt32LE(off + 12) });
        if (!isAcked) seg.unacked++;
        off += HEADER + len;
      }
      if (off < buf.length) torn += buf.length - off;
      if (seg.unacked === 0) {
        rmSync(path, { force: true });
        rmSync(this.ackPath(seq), { force: true });
        continue;
      }
      this.segments.push(seg);
      this.totalBytes += seg.bytes;
      for (const r of seg.records) {
        if (r.acked) continue;
        this.pendingCount++;
        this.pendingSamplesCount += r.samples;
      }
      if (acked.size === 0) this.scheduleCompaction(seg);
    }
    if (this.segments.length) {
      this.log.info({ segments: this.segments.length, samples: this.pendingSamplesCount, bytes: this.totalBytes, tornBytes: torn }, 'Spool has undelivered samples from an earlier run; resending them');
    }
  }

  private diskError(what: string, err: unknown): void {
    if (this.diskFailed.has(what)) return;
    this.diskFailed.add(what);
    this.log.error({ err: errorMessage(err), dir: this.opts.dir }, `Spool: ${what} failed; keeping data in memory (logged once)`);
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** Size of a spool directory's files, bytes (for reporting). */
export function spoolDirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) n += statSync(join(dir, f)).size;
  return n;
}
