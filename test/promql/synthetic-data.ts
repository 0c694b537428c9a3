/**
 * A deterministic synthetic data set shaped by a query corpus: for every metric the
 * corpus selects (the kubernetes-mixin rules), series whose labels satisfy the selectors,
 * spread over nodes, namespaces, pods and containers, with counters, gauges, classic
 * histogram buckets, counter resets and a stale-marked pod. Used by the differential
 * test and the benchmark, which push the same samples to Prometheus and to our store.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Label, Labels, TimeSeries } from '../../shared/index.js';
import { METRIC_NAME, STALE_NAN, sortLabels } from '../../shared/index.js';
import type { Matcher } from '../../collector/storage/index.js';
import { matchValue } from '../../collector/storage/index.js';
import { parseExpr, walk } from '../../collector/promql/index.js';
import { fixture } from '../helpers/paths.js';

export interface RuleExpr {
  readonly source: string;
  readonly name: string;
  readonly expr: string;
}

/** Every `expr` of the kubernetes-mixin alerting and recording rules. */
export function mixinRuleExprs(): RuleExpr[] {
  const out: RuleExpr[] = [];
  for (const file of ['prometheus_alerts.yaml', 'prometheus_rules.yaml']) {
    const doc = parseYaml(readFileSync(fixture('alert-rules', 'kubernetes-mixin', file), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }>;
    };
    for (const g of doc.groups) {
      for (const r of g.rules) out.push({ source: file, name: r.alert ?? r.record ?? '?', expr: String(r.expr).trim() });
    }
  }
  return out;
}

export interface DatasetOptions {
  /** Number of nodes; each runs `podsPerNode` pods. */
  nodes: number;
  podsPerNode: number;
  /** First and last sample time, ms. */
  start: number;
  end: number;
  intervalMs: number;
}

/** Deterministic hash → [0, 1). */
function rand(seed: string): number {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  h ^= h >>> 13;
  h = Math.imul(h, 0x5bd1e995);
  h ^= h >>> 15;
  return (h >>> 0) / 4294967296;
}

const CANDIDATES = ['kube-state-metrics', 'kubelet', 'node-exporter', 'apiserver', 'cadvisor', '/metrics/cadvisor', 'app', 'x', '1', 'true', 'Running', 'cpu', 'memory'];

/** A label value satisfying every matcher on one name, or undefined. */
function valueFor(ms: Matcher[]): string | undefined {
  const eq = ms.find((m) => m.type === '=');
  if (eq) return ms.every((m) => matchValue(m, eq.value)) ? eq.value : undefined;
  const cands: string[] = [];
  for (const m of ms) {
    if (m.type === '=~') {
      for (const alt of m.value.split('|')) if (/^[\w\-/.:]+$/.test(alt)) cands.push(alt);
    }
  }
  cands.push(...CANDIDATES);
  return cands.find((c) => ms.every((m) => matchValue(m, c)));
}

/** Label constraints per metric name, merged over every selector of the corpus. */
export function selectorTemplates(exprs: readonly string[]): Map<string, Array<Record<string, string>>> {
  const out = new Map<string, Array<Record<string, string>>>();
  for (const src of exprs) {
    let e;
    try {
      e = parseExpr(src);
    } catch {
      continue;
    }
    walk(e, (n) => {
      if (n.kind !== 'VectorSelector') return;
      const name = n.matchers.find((m) => m.name === METRIC_NAME && m.type === '=')?.value;
      if (!name) return;
      const byName = new Map<string, Matcher[]>();
      for (const m of n.matchers) {
        if (m.name === METRIC_NAME) continue;
        byName.set(m.name, [...(byName.get(m.name) ?? []), m]);
      }
      const tpl: Record<string, string> = {};
      for (const [lname, ms] of byName) {
        const v = valueFor(ms);
        if (v !== undefined && v !== '') tpl[lname] = v;
      }
      const list = out.get(name) ?? [];
      // Merge into a compatible template so a metric has few variants (fewer accidental
      // many-to-many matches in joins).
      const compatible = list.find((t) => Object.entries(tpl).every(([k, v]) => t[k] === undefined || t[k] === v));
      if (compatible) Object.assign(compatible, tpl);
      else list.push(tpl);
      out.set(name, list);
    });
  }
  return out;
}

const NODE_LEVEL = /^(node_|kube_node_|kubelet_|machine_|up$|process_|scheduler_|apiserver_|workqueue_|rest_client_|kubeproxy_|storage_operation)/;
const COUNTER = /(_total|_count|_sum|_bucket)$/;
const BUCKETS = ['0.005', '0.025', '0.1', '0.5', '1', '2.5', '10', '+Inf'];

/** Builds the series (with samples) for the metrics of `exprs`, plus the generic `kp_*` metrics. */
export function buildDataset(exprs: readonly string[], o: DatasetOptions): TimeSeries[] {
  const templates = selectorTemplates(exprs);
  const out: TimeSeries[] = [];
  const staleAt = o.end - 20 * 60_000;
  const nodes = Array.from({ length: o.nodes }, (_, n) => ({
    node: `node-${n}`,
    instance: `10.0.${Math.floor(n / 250)}.${n % 250}:9100`,
  }));
  const pods = nodes.flatMap((nd, n) =>
    Array.from({ length: o.podsPerNode }, (_, p) => ({
      ...nd,
      namespace: `ns-${p % 3}`,
      pod: `pod-${n}-${p}`,
      container: `c-${p % 2}`,
    })),
  );
  const emit = (labels: Record<string, string>, kind: 'counter' | 'gauge' | 'bool', scale = 1, stale = false) => {
    const ls: Label[] = Object.entries(labels)
      .filter(([, v]) => v !== '')
      .map(([name, value]) => ({ name, value }));
    // Buckets of one histogram share their seed so they stay cumulative across `le`.
    const key = JSON.stringify({ ...labels, le: undefined });
    const samples: Array<{ t: number; v: number }> = [];
    const rate = 0.5 + rand(key) * 10;
    const resetAt = rand(key + 'r') < 0.2 ? o.start + Math.floor(rand(key + 'rt') * (o.end - o.start)) : Infinity;
    const base = Math.floor(rand(key + 'b') * 1000);
    for (let t = o.start; t <= o.end; t += o.intervalMs) {
      if (stale && t >= staleAt) {
        samples.push({ t, v: STALE_NAN });
        break;
      }
      let v: number;
      if (kind === 'counter') {
        v = (t < resetAt ? base + (rate * (t - o.start)) / 1000 : (rate * (t - resetAt)) / 1000) * scale;
      } else if (kind === 'bool') v = rand(key + t) < 0.9 ? 1 : 0;
      else v = Math.round(rand(key + t) * 1000) / 10;
      samples.push({ t, v });
    }
    out.push({ labels: sortLabels(ls), samples });
  };
  for (const [name, tpls] of templates) {
    const ents = NODE_LEVEL.test(name) ? nodes : pods;
    const kind = COUNTER.test(name) ? 'counter' : /^(up|kube_.*_(info|status_.*|condition|labels|created))$/.test(name) || name.endsWith('_info') ? 'bool' : 'gauge';
    for (const tpl of tpls) {
      ents.forEach((ent, i) => {
        const labels: Record<string, string> = { cluster: 'c1', job: 'app', ...ent, ...tpl, [METRIC_NAME]: name };
        const stale = 'pod' in ent && i === 0;
        if (name.endsWith('_bucket')) {
          BUCKETS.forEach((le, b) => emit({ ...labels, le }, 'counter', (b + 1) / BUCKETS.length, stale));
        } else emit(labels, kind, 1, stale);
      });
    }
  }
  // Generic metrics for the generated function/operator corpus.
  for (const nd of nodes.slice(0, 3)) {
    for (const mode of ['idle', 'user', 'system']) emit({ [METRIC_NAME]: 'kp_counter_total', job: 'kp', mode, ...nd }, 'counter');
    emit({ [METRIC_NAME]: 'kp_gauge', job: 'kp', ...nd }, 'gauge');
    emit({ [METRIC_NAME]: 'kp_other', job: 'kp', ...nd }, 'gauge');
    BUCKETS.forEach((le, b) => emit({ [METRIC_NAME]: 'kp_hist_bucket', job: 'kp', le, ...nd }, 'counter', (b + 1) / BUCKETS.length));
  }
  emit({ [METRIC_NAME]: 'kp_stale', job: 'kp' }, 'gauge', 1, true);
  return out;
}

/** The label set of a series as a plain record (for messages). */
export function labelsRecord(ls: Labels): Record<string, string> {
  return Object.fromEntries(ls.map((l) => [l.name, l.value]));
}
