/**
 * The Prometheus text exposition format (version 0.0.4), written family by family so
 * large outputs can be streamed.
 */
import type { Labels } from './labels.js';
import { METRIC_NAME } from './labels.js';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricTypeName = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped' | 'info' | 'stateset' | 'gaugehistogram';

export interface FamilyMeta {
  readonly name: string;
  readonly help: string;
  readonly type: MetricTypeName;
}

export interface ExposedSample {
  readonly labels: Labels;
  readonly v: number;
  /** Epoch ms; omitted from the output when undefined. */
  readonly t?: number;
}

export function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** A float the way Prometheus prints it: `NaN`, `+Inf`, `-Inf`, or the shortest exact form. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** One sample line, without the trailing newline. */
export function formatSampleLine(s: ExposedSample): string {
  let name = '';
  let inner = '';
  for (const l of s.labels) {
    if (l.name === METRIC_NAME) {
      name = l.value;
      continue;
    }
    inner += (inner ? ',' : '') + l.name + '="' + escapeLabelValue(l.value) + '"';
  }
  let line = inner ? `${name}{${inner}} ${formatValue(s.v)}` : `${name} ${formatValue(s.v)}`;
  if (s.t !== undefined) line += ' ' + Math.round(s.t);
  return line;
}

/** HELP and TYPE lines plus every sample of one family. */
export function formatFamily(meta: FamilyMeta, samples: Iterable<ExposedSample>): string {
  let out = `# HELP ${meta.name} ${escapeHelp(meta.help)}\n# TYPE ${meta.name} ${meta.type}\n`;
  for (const s of samples) out += formatSampleLine(s) + '\n';
  return out;
}
