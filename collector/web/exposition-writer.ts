/**
 * Renders the newest sample of every stored series as Prometheus text (0.0.4), fast and
 * in slices. The output is byte for byte what `formatFamily`/`formatSampleLine` of
 * shared/exposition.ts give; what makes it fast (measured with 100k series):
 *
 * - grouping keeps references and numbers in per-family arrays, so the per-sample objects
 *   the store yields die young instead of surviving into the render;
 * - a series' `name{labels} ` prefix is kept between scrapes (up to a bound: ~180 bytes
 *   of heap a series), so a scrape mostly concatenates three strings per line; when it
 *   has to be built, it is from per-pair strings shared within the scrape by `Label`
 *   object, which the TSDB shares between all series with that pair;
 * - chunks are string concatenations, handed to the socket (or zlib) as strings: no
 *   Buffer per chunk, hence no external-memory-triggered full GCs;
 * - the loop is yielded to by time (every `sliceMs`), not by bytes.
 */
import type { Label, Labels } from '../../shared/index.js';
import { escapeHelp, escapeLabelValue, METRIC_NAME } from '../../shared/index.js';
import type { HeadReader } from '../storage/index.js';

/** Options of {@link StoredSeriesRenderer}; every field has a default. */
export interface StoredSeriesRendererOptions {
  /**
   * Longest stretch of rendering between two yields to the event loop, ms. Default 3:
   * with a young-generation GC pause (2-7 ms measured at 100k series) landing in a slice,
   * the loop still waits under 10 ms.
   */
  sliceMs?: number;
  /** Characters per chunk handed to the stream. Default 64 Ki. */
  chunkChars?: number;
  /**
   * Most series whose rendered `name{labels} ` prefix is kept between scrapes, which
   * makes a scrape about twice as fast at about 180 bytes of heap per series with
   * kubelet-like label sets (see test/bench/results/metrics.md). 0 disables the cache.
   * Default 200,000 (at most ~36 MB).
   */
  prefixCacheMaxSeries?: number;
  /** Clock for slicing, ms. */
  now?: () => number;
}

/** Default of {@link StoredSeriesRendererOptions.prefixCacheMaxSeries}. */
export const DEFAULT_PREFIX_CACHE_MAX_SERIES = 200_000;

/** HELP text of a family the sender sent no metadata for. */
export const FALLBACK_HELP = 'Series stored by kubepulse; the sender gave no metadata.';

/** The series of one metric family, as parallel arrays (index i is one series). */
interface Family {
  labels: Labels[];
  v: number[];
  t: number[];
}

/** Resolves on the next turn of the event loop, letting I/O and timers run. */
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/** How many series the grouping pass handles between two looks at the clock. */
const CLOCK_EVERY = 1024;

function formatValue(v: number): string {
  // Same strings as shared formatValue, with the common case first.
  if (v === v && v !== Infinity && v !== -Infinity) return '' + v;
  return v !== v ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
}

function nameOf(ls: Labels): string {
  // Sorted sets put `__name__` first unless a label name starts with A-Z or `_[A-Z]`.
  const l0 = ls[0];
  if (l0 !== undefined && l0.name === METRIC_NAME) return l0.value;
  for (const l of ls) if (l.name === METRIC_NAME) return l.value;
  return '';
}

/**
 * Streams the stored series of a {@link HeadReader} as exposition text. One instance
 * serves every scrape of one store (it holds the caches); scrapes may overlap.
 */
export class StoredSeriesRenderer {
  private readonly sliceMs: number;
  private readonly chunkChars: number;
  private readonly prefixMax: number;
  private readonly now: () => number;
  /**
   * `name{labels} ` by label set. A plain Map, not a WeakMap: 100k ephemerons lengthened
   * V8's mark-compact pause past 10 ms. Gone series are forgotten by rebuilding the map
   * from one scrape's series once they make up an eighth of it.
   */
  private prefixes = new Map<Labels, string>();
  private rebuildNext = false;

  constructor(opts: StoredSeriesRendererOptions = {}) {
    this.sliceMs = opts.sliceMs ?? 3;
    this.chunkChars = opts.chunkChars ?? 64 * 1024;
    this.prefixMax = opts.prefixCacheMaxSeries ?? DEFAULT_PREFIX_CACHE_MAX_SERIES;
    this.now = opts.now ?? (() => performance.now());
    if (!(this.sliceMs > 0)) throw new RangeError(`sliceMs must be > 0, got ${opts.sliceMs}`);
    if (!(this.chunkChars >= 1)) throw new RangeError(`chunkChars must be >= 1, got ${opts.chunkChars}`);
    if (!(this.prefixMax >= 0)) throw new RangeError(`prefixCacheMaxSeries must be >= 0, got ${opts.prefixCacheMaxSeries}`);
  }

  /**
   * Every series of `head` whose metric name is not in `exclude`, families sorted by name,
   * each with its HELP and TYPE lines, series in the store's order, each line ending in
   * `\n`. Yields chunks of about `chunkChars` (the option unless given here); awaits the
   * next turn of the event loop whenever `sliceMs` of work has passed since the last one.
   */
  async *render(head: HeadReader, exclude: ReadonlySet<string>, chunkChars = this.chunkChars): AsyncGenerator<string> {
    const byName = new Map<string, Family>();
    let sliceStart = this.now();
    let n = 0;
    for (const s of head.latestSamples()) {
      const name = nameOf(s.labels);
      if (exclude.has(name)) continue;
      let fam = byName.get(name);
      if (fam === undefined) byName.set(name, (fam = { labels: [], v: [], t: [] }));
      fam.labels.push(s.labels);
      fam.v.push(s.v);
      fam.t.push(s.t);
      if (++n % CLOCK_EVERY === 0 && this.now() - sliceStart >= this.sliceMs) {
        await yieldToLoop();
        sliceStart = this.now();
      }
    }

    const meta = head.metadata();
    const prefixMax = this.prefixMax;
    const prefixes = this.prefixes;
    const rebuild = this.rebuildNext;
    const next = rebuild ? new Map<Labels, string>() : prefixes;
    let hits = 0;
    let added = 0;
    // `name="escaped value"` by label object, for this scrape only: a lasting WeakMap of
    // every pair would be as big as the series count with per-series labels (ids), and
    // weak entries in the 100k lengthen GC pauses.
    const pairs = new Map<Label, string>();
    let lastT = NaN;
    let tail = '\n';
    let buf = '';
    for (const name of [...byName.keys()].sort()) {
      const md = meta.get(name);
      // A family's TYPE line must name the series it covers; histogram/summary parts
      // (`_bucket`, `_sum`, `_count`) stored under their own names are untyped here.
      const type = md && (md.type === 'counter' || md.type === 'gauge') ? md.type : 'untyped';
      buf += `# HELP ${name} ${escapeHelp(md?.help || FALLBACK_HELP)}\n# TYPE ${name} ${type}\n`;
      const fam = byName.get(name) as Family;
      byName.delete(name); // its arrays can go as soon as it is written
      const { labels, v, t } = fam;
      for (let i = 0; i < labels.length; i++) {
        const ls = labels[i];
        let prefix: string | undefined;
        if (prefixMax > 0) {
          prefix = prefixes.get(ls);
          if (prefix === undefined) {
            const keep = next.size < prefixMax;
            prefix = this.prefix(name, ls, keep, pairs);
            if (keep) {
              next.set(ls, prefix);
              added++;
            }
          } else {
            hits++;
            if (rebuild && next.size < prefixMax) next.set(ls, prefix);
          }
        } else prefix = this.prefix(name, ls, false, pairs);
        const ti = t[i];
        if (ti !== lastT) {
          lastT = ti;
          tail = ' ' + Math.round(ti) + '\n';
        }
        buf += prefix + formatValue(v[i]) + tail;
        if (buf.length >= chunkChars) {
          yield buf;
          buf = '';
          if (this.now() - sliceStart >= this.sliceMs) {
            await yieldToLoop();
            sliceStart = this.now();
          }
        }
      }
    }
    // Only a scrape that ran to the end knows which entries are dead (an aborted one stops early).
    if (prefixMax > 0) {
      this.prefixes = next;
      const dead = rebuild ? 0 : next.size - hits - added;
      this.rebuildNext = dead > Math.max(1024, next.size >> 3) || (dead > 0 && next.size >= prefixMax);
    }
    if (buf !== '') yield buf;
  }

  /** Entries in the per-series prefix cache (for tests and self-metrics). */
  get cachedPrefixes(): number {
    return this.prefixes.size;
  }

  /** `name{labels} `; flattened when it is to be kept. */
  private prefix(name: string, ls: Labels, keep: boolean, pairs: Map<Label, string>): string {
    let out = name;
    let sep = '{';
    for (let j = 0; j < ls.length; j++) {
      const l = ls[j];
      if (l.name === METRIC_NAME) continue;
      let pair = pairs.get(l);
      if (pair === undefined) {
        pair = l.name + '="' + escapeLabelValue(l.value) + '"';
        pairs.set(l, pair);
      }
      out += sep + pair;
      sep = ',';
    }
    out = sep === ',' ? out + '} ' : out + ' ';
    // A kept rope would hold its pieces (and their headers) alive, and every chunk it goes
    // into would walk them again; reading a character makes V8 flatten it in place.
    if (keep) out.charCodeAt(0);
    return out;
  }
}
