/**
 * Alertmanager label matchers: parsing of the `matchers:` strings (`severity="critical"`,
 * `alertname=~"Kube.*"`, unquoted values, `{a="b", c!="d"}` lists), evaluation against an
 * alert's labels, and the exact `String()` Alertmanager prints (it is part of `groupKey`).
 */
import { KubepulseError } from '../../shared/index.js';

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface AmMatcher {
  readonly name: string;
  readonly type: MatchOp;
  readonly value: string;
  /** Compiled, fully anchored, for regex types. */
  readonly re?: RegExp;
}

export class MatcherError extends KubepulseError {
  constructor(message: string) {
    super('KP_ERR_MATCHER', message);
  }
}

/** Builds a matcher; throws on a bad regex. */
export function newMatcher(name: string, type: MatchOp, value: string): AmMatcher {
  if (type === '=~' || type === '!~') {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${value})$`, 's');
    } catch (err) {
      throw new MatcherError(`invalid regular expression ${JSON.stringify(value)}: ${(err as Error).message}`);
    }
    return { name, type, value, re };
  }
  return { name, type, value };
}

/** True when the labels satisfy the matcher; absent labels have value ''. */
export function matches(m: AmMatcher, labels: Readonly<Record<string, string>>): boolean {
  const v = labels[m.name] ?? '';
  switch (m.type) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return m.re!.test(v);
    case '!~':
      return !m.re!.test(v);
  }
}

export function matchesAll(ms: readonly AmMatcher[], labels: Readonly<Record<string, string>>): boolean {
  for (const m of ms) if (!matches(m, labels)) return false;
  return true;
}

/** Go's `%q` of a string (what Alertmanager prints in matcher strings). */
function goQuote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `name="value"`, as Alertmanager's `Matcher.String()`. */
export function matcherString(m: AmMatcher): string {
  return `${m.name}${m.type}${goQuote(m.value)}`;
}

/** `{a="b",c=~"d"}`, as Alertmanager's `Matchers.String()`. */
export function matchersString(ms: readonly AmMatcher[]): string {
  return `{${ms.map(matcherString).join(',')}}`;
}

/** Sorts as Alertmanager's `labels.Matchers` (name, then value, then type). */
export function sortMatchers(ms: AmMatcher[]): AmMatcher[] {
  const TYPE_ORDER: Record<MatchOp, number> = { '=': 0, '!=': 1, '=~': 2, '!~': 3 };
  return ms.sort((a, b) => {
    if (a.name !== b.name) return a.name < b.name ? -1 : 1;
    if (a.value !== b.value) return a.value < b.value ? -1 : 1;
    return TYPE_ORDER[a.type] - TYPE_ORDER[b.type];
  });
}

const ONE_RE = /^\s*([^\s=!~"{},]+|"(?:[^"\\]|\\.)*")\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^,}]*?)\s*$/;

/** Parses one matcher string (`a="b"`, `a=~b.*`, `"odd name"!="x"`). */
export function parseMatcher(s: string): AmMatcher {
  const m = ONE_RE.exec(s);
  if (!m) throw new MatcherError(`bad matcher format: ${s}`);
  const unq = (x: string) => (x.startsWith('"') ? (JSON.parse(x) as string) : x);
  return newMatcher(unq(m[1]), m[2] as MatchOp, unq(m[3]));
}

/** Parses `{a="b", c!="d"}` or `a="b",c!="d"` into matchers; splits on commas outside quotes. */
export function parseMatchers(s: string): AmMatcher[] {
  let body = s.trim();
  if (body.startsWith('{')) {
    if (!body.endsWith('}')) throw new MatcherError(`missing closing "}" in ${s}`);
    body = body.slice(1, -1);
  }
  const parts: string[] = [];
  let cur = '';
  let inQ = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\' && inQ) {
      cur += c + (body[++i] ?? '');
      continue;
    }
    if (c === '"') inQ = !inQ;
    if (c === ',' && !inQ) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim()) parts.push(cur);
  return parts.filter((p) => p.trim()).map(parseMatcher);
}
