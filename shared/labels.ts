/**
 * Label sets and series identity.
 *
 * A {@link Labels} value is an array of name/value pairs sorted by name with unique names,
 * the same shape remote_write's protobuf `Label` has, so decoded requests need no copy.
 * Everything that identifies a series (storage, dedup of stale markers, fingerprints)
 * goes through this module so that two programs agree on identity.
 */

export interface Label {
  readonly name: string;
  readonly value: string;
}

/** Sorted by name, names unique. Treat as immutable. */
export type Labels = readonly Label[];

export const METRIC_NAME = '__name__';

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** True when `name` is a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`). */
export function isValidLabelName(name: string): boolean {
  return LABEL_NAME_RE.test(name);
}

/** True when `name` is a valid legacy metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`). */
export function isValidMetricName(name: string): boolean {
  return METRIC_NAME_RE.test(name);
}

/** Builds a sorted label set from a plain object; empty values are dropped, as Prometheus does. */
export function labelsFromObject(obj: Readonly<Record<string, string | undefined>>): Labels {
  const out: Label[] = [];
  for (const name of Object.keys(obj)) {
    const value = obj[name];
    if (value !== undefined && value !== '') out.push({ name, value });
  }
  out.sort(compareLabel);
  return out;
}

/** Plain-object view of a label set. */
export function labelsToObject(ls: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of ls) out[l.name] = l.value;
  return out;
}

function compareLabel(a: Label, b: Label): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Sorts in place a label array whose order is unknown, returning it. */
export function sortLabels(ls: Label[]): Label[] {
  for (let i = 1; i < ls.length; i++) {
    if (ls[i - 1].name > ls[i].name) return ls.sort(compareLabel);
  }
  return ls;
}

/** Value of label `name`, or '' when absent (Prometheus treats absent and empty alike). */
export function getLabel(ls: Labels, name: string): string {
  for (const l of ls) if (l.name === name) return l.value;
  return '';
}

/** Returns a new sorted set with `name` set to `value` (removed when `value` is ''). */
export function withLabel(ls: Labels, name: string, value: string): Labels {
  const out: Label[] = [];
  let placed = false;
  for (const l of ls) {
    if (!placed && l.name >= name) {
      if (value !== '') out.push({ name, value });
      placed = true;
      if (l.name === name) continue;
    }
    out.push(l);
  }
  if (!placed && value !== '') out.push({ name, value });
  return out;
}

/** Returns a new set without the named labels. */
export function withoutLabels(ls: Labels, names: ReadonlySet<string>): Labels {
  return ls.filter((l) => !names.has(l.name));
}

/** Problems with a label set as received from a sender (sorted first); empty when valid. */
export function validateLabels(ls: readonly Label[]): string[] {
  const problems: string[] = [];
  let hasName = false;
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i];
    if (!isValidLabelName(l.name)) problems.push(`invalid label name ${JSON.stringify(l.name)}`);
    if (i > 0 && ls[i - 1].name === l.name) problems.push(`duplicate label name ${JSON.stringify(l.name)}`);
    if (l.name === METRIC_NAME) {
      hasName = true;
      if (!isValidMetricName(l.value)) problems.push(`invalid metric name ${JSON.stringify(l.value)}`);
    }
  }
  if (!hasName) problems.push(`series without ${METRIC_NAME} label: ${labelsToString(ls)}`);
  return problems;
}

/** `name{a="1",b="2"}` in the Prometheus text notation; stable for equal sets. */
export function labelsToString(ls: Labels): string {
  let name = '';
  const parts: string[] = [];
  for (const l of ls) {
    if (l.name === METRIC_NAME) name = l.value;
    else parts.push(`${l.name}=${JSON.stringify(l.value)}`);
  }
  return parts.length ? `${name}{${parts.join(', ')}}` : name || '{}';
}

/** Compares two sorted label sets, Prometheus's `labels.Compare` order. */
export function compareLabels(a: Labels, b: Labels): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i].name !== b[i].name) return a[i].name < b[i].name ? -1 : 1;
    if (a[i].value !== b[i].value) return a[i].value < b[i].value ? -1 : 1;
  }
  return a.length - b.length;
}

export function labelsEqual(a: Labels, b: Labels): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].name !== b[i].name || a[i].value !== b[i].value) return false;
  }
  return true;
}

/**
 * Stable key for a sorted label set, usable as a Map key. Separators are bytes that
 * cannot occur in valid UTF-8 text, so distinct sets never collide.
 */
export function labelsKey(ls: Labels): string {
  let s = '';
  for (const l of ls) s += l.name + '\xff' + l.value + '\xfe';
  return s;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/**
 * 64-bit FNV-1a over the label pairs, as 16 hex digits. Stable across processes and
 * versions; used as the series fingerprint in APIs and alert payloads.
 */
export function fingerprint(ls: Labels): string {
  // Two 32-bit halves would be faster, but fingerprinting is off the hot path.
  let h = FNV_OFFSET;
  const enc = new TextEncoder();
  for (const l of ls) {
    for (const part of [l.name, l.value]) {
      for (const b of enc.encode(part)) {
        h ^= BigInt(b);
        h = (h * FNV_PRIME) & MASK64;
      }
      h ^= 0xffn;
      h = (h * FNV_PRIME) & MASK64;
    }
  }
  return h.toString(16).padStart(16, '0');
}
