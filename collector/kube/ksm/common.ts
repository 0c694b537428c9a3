/**
 * Building blocks of the kube-state-metrics-compatible series: the sample shape,
 * Kubernetes quantities, timestamps, label sanitising and the label allow-list.
 * Objects are plain API JSON (`any`-shaped), as the watch delivers them.
 */

/** One kube-state-metrics sample before `job`/`cluster` are added. */
export interface KsmSample {
  /** Metric name, e.g. `kube_pod_status_phase`. */
  readonly name: string;
  /** Label values by name; empty values mean "absent", as in Prometheus. */
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Plain JSON of any Kubernetes object. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = any;

/** Options every generator receives. */
export interface KsmOptions {
  /**
   * Kubernetes labels exported as `label_<name>` on `kube_<kind>_labels`, by resource
   * (`pods`, `nodes`, `namespaces`, `deployments`, …). `['*']` exports all. Default
   * none, as kube-state-metrics' `--metric-labels-allowlist`.
   */
  readonly labelsAllowlist?: Readonly<Record<string, readonly string[]>>;
  /** The same for annotations (`annotation_<name>` on `kube_<kind>_annotations`). */
  readonly annotationsAllowlist?: Readonly<Record<string, readonly string[]>>;
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/**
 * Value of a Kubernetes quantity (`100m`, `128Mi`, `1.5G`, `2e3`, `7`) as a float;
 * NaN when it is not a quantity.
 */
export function parseQuantity(q: unknown): number {
  if (typeof q === 'number') return q;
  if (typeof q !== 'string') return NaN;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$/.exec(q.trim());
  if (!m) return NaN;
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  const suf = m[3] ?? '';
  return base * (BINARY[suf] ?? DECIMAL[suf]);
}

/** Epoch seconds of an RFC 3339 string or a Date; undefined when absent or invalid. */
export function epochSeconds(t: unknown): number | undefined {
  if (t === undefined || t === null || t === '') return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(String(t));
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/** kube-state-metrics' `SanitizeLabelName`: every character outside `[a-zA-Z0-9_]` becomes `_`. */
export function sanitizeLabelName(s: string): string {
  return s.replace(/[^a-zA-Z0-9_]/g, '_');
}

/**
 * `label_<k>` (or `annotation_<k>`) labels of the allow-listed keys of `kv`, as
 * kube-state-metrics builds them: sanitised names, only keys present on the object.
 */
export function allowlisted(
  kv: Readonly<Record<string, string>> | undefined,
  allow: readonly string[] | undefined,
  prefix: 'label' | 'annotation',
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!kv || !allow || allow.length === 0) return out;
  const all = allow.includes('*');
  for (const k of Object.keys(kv).sort()) {
    if (all || allow.includes(k)) out[`${prefix}_${sanitizeLabelName(k)}`] = kv[k];
  }
  return out;
}

/** Resource name and unit as kube-state-metrics labels requests, limits and node capacity. */
export function resourceLabels(resource: string): { resource: string; unit: string } {
  if (resource === 'cpu') return { resource: 'cpu', unit: 'core' };
  if (resource === 'memory' || resource === 'storage' || resource === 'ephemeral-storage' || resource.startsWith('hugepages-')) {
    return { resource: sanitizeLabelName(resource), unit: 'byte' };
  }
  return { resource: sanitizeLabelName(resource), unit: 'integer' };
}

/** The three `status`/`condition` samples kube-state-metrics emits for a condition status. */
export function conditionTriple(status: unknown): Array<[string, number]> {
  const s = String(status ?? '').toLowerCase();
  return [
    ['true', s === 'true' ? 1 : 0],
    ['false', s === 'false' ? 1 : 0],
    ['unknown', s === 'unknown' ? 1 : 0],
  ];
}

/** A number field or undefined (`null`, absent and non-numbers are all undefined). */
export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** The owner reference marked `controller: true`, if any. */
export function controllerOf(o: Obj): { kind: string; name: string } | undefined {
  for (const r of (o?.metadata?.ownerReferences ?? []) as Obj[]) if (r.controller === true) return { kind: r.kind, name: r.name };
  return undefined;
}

/** Collects samples; `add` skips undefined values so optional fields need no branches. */
export class SampleList {
  readonly out: KsmSample[] = [];
  add(name: string, labels: Record<string, string>, value: number | undefined): void {
    if (value === undefined || Number.isNaN(value)) return;
    this.out.push({ name, labels, value });
  }
}
