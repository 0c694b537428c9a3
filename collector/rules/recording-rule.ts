/**
 * A recording rule: evaluates its expression and stores the result under a new metric
 * name with the rule's labels (`rules/recording.go`).
 */
import { METRIC_NAME, labelsFromObject, labelsKey, labelsToObject, labelsToString } from '../../shared/index.js';
import type { RuleSpec } from './rule-file.js';
import type { VectorSample } from './types.js';

export class RecordingRule {
  readonly kind = 'record' as const;
  readonly name: string;
  readonly expr: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: RuleSpec;
  health: 'ok' | 'err' | 'unknown' = 'unknown';
  lastError = '';
  lastEvaluation = 0;
  evaluationMs = 0;

  constructor(spec: RuleSpec, groupLabels: Readonly<Record<string, string>> = {}) {
    this.spec = spec;
    this.name = spec.name;
    this.expr = spec.expr;
    this.labels = { ...groupLabels, ...spec.labels };
  }

  /** The samples to store for one evaluation result; throws on duplicate output series or over `limit`. */
  eval(vector: readonly VectorSample[], t: number, limit = 0): VectorSample[] {
    const out: VectorSample[] = [];
    const seen = new Set<string>();
    for (const s of vector) {
      const o = labelsToObject(s.labels);
      o[METRIC_NAME] = this.name;
      for (const [k, v] of Object.entries(this.labels)) o[k] = v;
      const labels = labelsFromObject(o);
      const key = labelsKey(labels);
      if (seen.has(key)) {
        throw new Error(`vector contains metrics with the same labelset after applying rule labels: ${labelsToString(labels)}`);
      }
      seen.add(key);
      out.push({ labels, t, v: s.v });
    }
    if (limit > 0 && out.length > limit) throw new Error(`exceeded limit of ${limit} with ${out.length} series`);
    return out;
  }
}
