/**
 * A MetricSink that records what a source emits, and a parser for node_exporter's text
 * output, so tests can compare the two as sets of `name{labels} value`.
 */
import type { MetricTypeName } from '../../shared/index.js';
import type { CollectContext, MetricSink } from '../../agent/sources/source.js';

export interface CapturedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class CaptureSink implements MetricSink {
  readonly families = new Map<string, { type: MetricTypeName; help: string }>();
  readonly samples: CapturedSample[] = [];

  family(name: string, type: MetricTypeName, help: string): void {
    if (!this.families.has(name)) this.families.set(name, { type, help });
  }

  add(name: string, labels: Readonly<Record<string, string>>, value: number): void {
    // Empty label values are dropped by the sampler, as Prometheus does.
    const l: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) if (v !== '') l[k] = v;
    this.samples.push({ name, labels: l, value });
  }

  /** `name{a="1",b="2"}` → value, labels sorted. Throws on a duplicate series. */
  byKey(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.samples) {
      const k = seriesKey(s.name, s.labels);
      if (out.has(k)) throw new Error(`duplicate series emitted: ${k}`);
      out.set(k, s.value);
    }
    return out;
  }

  names(): Set<string> {
    return new Set(this.samples.map((s) => s.name));
  }
}

export function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  const parts = Object.keys(labels)
    .filter((k) => labels[k] !== '')
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `${name}{${parts.join(',')}}`;
}

/** A CollectContext that records reported errors. */
export function testContext(now = Date.now(), signal: AbortSignal = new AbortController().signal): CollectContext & { errors: Array<{ reason: string; err: unknown }> } {
  const errors: Array<{ reason: string; err: unknown }> = [];
  return { now, signal, errors, reportError: (reason, err) => errors.push({ reason, err }) };
}

/**
 * Parses the Prometheus text format as node_exporter writes it (no timestamps, one
 * sample per line) into series key → value and metric name → TYPE.
 */
export function parseExposition(text: string): { series: Map<string, number>; types: Map<string, string> } {
  const series = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name, type);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
    let lm: RegExpExecArray | null;
    while ((lm = re.exec(body)) !== null) labels[lm[1]] = lm[2].replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const raw = m[4];
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw);
    series.set(seriesKey(m[1], labels), value);
  }
  return { series, types };
}
