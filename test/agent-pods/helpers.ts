/** Test helpers for the pod/container sources: a recording sink and a recording context. */
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricTypeName } from '../../shared/index.js';
import type { CollectContext, MetricSink } from '../../agent/sources/source.js';
import { FIXTURES } from '../helpers/paths.js';

export interface Recorded {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Canonical key `name{a="x",b="y"}` with empty labels dropped, as the sampler drops them. */
export function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  const parts = Object.keys(labels)
    .filter((k) => labels[k] !== '')
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `${name}{${parts.join(',')}}`;
}

export class RecordingSink implements MetricSink {
  readonly samples: Recorded[] = [];
  readonly families = new Map<string, { type: MetricTypeName; help: string }>();
  private readonly byKey = new Map<string, number>();

  family(name: string, type: MetricTypeName, help: string): void {
    if (!this.families.has(name)) this.families.set(name, { type, help });
  }

  add(name: string, labels: Readonly<Record<string, string>>, value: number): void {
    const key = seriesKey(name, labels);
    if (this.byKey.has(key)) throw new Error(`duplicate series in one tick: ${key}`);
    this.byKey.set(key, value);
    this.samples.push({ name, labels: { ...labels }, value });
  }

  get(name: string, labels: Readonly<Record<string, string>>): number | undefined {
    return this.byKey.get(seriesKey(name, labels));
  }

  named(name: string): Recorded[] {
    return this.samples.filter((s) => s.name === name);
  }
}

export class RecordingContext implements CollectContext {
  readonly errors: Array<{ reason: string; err: unknown }> = [];
  readonly signal: AbortSignal;
  constructor(
    readonly now = Date.now(),
    signal?: AbortSignal,
  ) {
    this.signal = signal ?? new AbortController().signal;
  }
  reportError(reason: string, err: unknown): void {
    this.errors.push({ reason, err });
  }
  reasons(): string[] {
    return this.errors.map((e) => e.reason);
  }
}

/** Every kubelet summary fixture: [label, absolute path]. */
export function summaryFixtures(): Array<[string, string]> {
  const base = join(FIXTURES, 'kubelet-summary');
  const out: Array<[string, string]> = [];
  const nri = join(base, 'nri-kubernetes');
  for (const d of readdirSync(nri).sort()) {
    const f = join(nri, d, 'stats-summary.json');
    if (existsSync(f)) out.push([`nri ${d}`, f]);
  }
  for (const f of readdirSync(join(nri, 'unit-testdata')).sort()) out.push([`nri unit ${f}`, join(nri, 'unit-testdata', f)]);
  out.push(['otel-kubeletstats', join(base, 'otel-kubeletstats', 'stats-summary.json')]);
  return out;
}
