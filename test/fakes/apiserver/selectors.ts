/**
 * Label and field selectors as the API server parses them (the subset tests need):
 * labels `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`; fields
 * `path=v`, `path==v`, `path!=v` over any dotted path (`spec.nodeName`, `metadata.name`,
 * `metadata.namespace`, `status.phase`, …).
 */

/** A compiled selector: true when the object matches. */
export type ObjectPredicate = (obj: KubeObject) => boolean;

/** Any Kubernetes object as plain JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** Thrown for a selector the fake cannot parse; the server answers 400 with its message. */
export class SelectorError extends Error {}

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** Compiles a `labelSelector` query value; empty or absent matches everything. */
export function parseLabelSelector(sel: string | null | undefined): ObjectPredicate {
  if (!sel) return () => true;
  const preds: Array<(labels: Record<string, string>) => boolean> = [];
  for (const term of splitTerms(sel)) {
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$/))) {
      const [, key, op, list] = m;
      const values = new Set(list.split(',').map((v) => v.trim()));
      preds.push(op === 'in' ? (l) => key in l && values.has(l[key]) : (l) => !(key in l) || !values.has(l[key]));
    } else if ((m = term.match(/^([^\s!=]+)\s*(==|=|!=)\s*([^\s]*)$/))) {
      const [, key, op, value] = m;
      preds.push(op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value);
    } else if ((m = term.match(/^!([^\s!=]+)$/))) {
      const key = m[1];
      preds.push((l) => !(key in l));
    } else if ((m = term.match(/^([^\s!=()]+)$/))) {
      const key = m[1];
      preds.push((l) => key in l);
    } else {
      throw new SelectorError(`unable to parse requirement: ${JSON.stringify(term)}`);
    }
  }
  return (obj) => {
    const labels = obj.metadata?.labels ?? {};
    return preds.every((p) => p(labels));
  };
}

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return '';
  return String(cur);
}

/** Compiles a `fieldSelector` query value; empty or absent matches everything. */
export function parseFieldSelector(sel: string | null | undefined): ObjectPredicate {
  if (!sel) return () => true;
  const preds: ObjectPredicate[] = [];
  for (const term of splitTerms(sel)) {
    const m = term.match(/^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw new SelectorError(`invalid field selector: ${JSON.stringify(term)}`);
    const [, path, op, value] = m;
    preds.push(op === '!=' ? (o) => fieldValue(o, path) !== value : (o) => fieldValue(o, path) === value);
  }
  return (obj) => preds.every((p) => p(obj));
}
