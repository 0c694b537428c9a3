/**
 * A subset of Go's text/template, enough for the label and annotation templates real rule
 * packs use: actions with pipelines, variables (`$labels`, `$value`, `$externalLabels`,
 * `$externalURL`, declared ones), field chains (`.Labels.x`, `$labels.x`), `if`/`else if`/
 * `else`/`end`, `range`, `with`, comments, `{{-`/`-}}` trimming, and Prometheus's template
 * functions. Parsing reports unknown functions and undefined variables, as Go does, so a
 * rule file with a broken template is refused at load.
 */
import { KubepulseError } from '../../shared/index.js';
import {
  humanize,
  humanize1024,
  humanizeDuration,
  humanizePercentage,
  humanizeTimestamp,
  sprintf,
  toText,
} from './humanize.js';

/** A template that failed to parse or execute; the message reads like Go's. */
export class TemplateError extends KubepulseError {
  constructor(message: string) {
    super('KP_ERR_TEMPLATE', message);
  }
}

/** One sample as `query` returns it to templates. */
export interface TemplateSample {
  Labels: Record<string, string>;
  Value: number;
}

/** What a template sees as `.`; Prometheus's alert template data. */
export interface TemplateData {
  Labels: Record<string, string>;
  ExternalLabels: Record<string, string>;
  ExternalURL: string;
  Value: number | string;
}

export interface ExecOptions {
  /** Backs the `query` function; without it `query` fails at execution. */
  query?: (expr: string) => Promise<TemplateSample[]>;
}

// ---- lexing -------------------------------------------------------------------------

type Tok =
  | { k: 'ident' | 'field' | 'var' | 'string' | 'number' | 'bool' | 'nil' | 'dot'; v: string; pos: number }
  | { k: '|' | '(' | ')' | ':=' | '=' | ','; v: string; pos: number };

function lexAction(src: string, base: number, name: string, line: () => number): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const err = (msg: string) => new TemplateError(`template: ${name}:${line()}: ${msg}`);
  while (i < src.length) {
    const c = src[i];
    const pos = base + i;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '|' || c === '(' || c === ')' || c === ',') {
      out.push({ k: c, v: c, pos });
      i++;
      continue;
    }
    if (c === ':' && src[i + 1] === '=') {
      out.push({ k: ':=', v: ':=', pos });
      i += 2;
      continue;
    }
    if (c === '=') {
      out.push({ k: '=', v: '=', pos });
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) throw err('unterminated quoted string');
      let v: string;
      try {
        v = JSON.parse(src.slice(i, j + 1)) as string;
      } catch {
        throw err(`invalid syntax in quoted string ${src.slice(i, j + 1)}`);
      }
      out.push({ k: 'string', v, pos });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw err('unterminated raw quoted string');
      out.push({ k: 'string', v: src.slice(i + 1, j), pos });
      i = j + 1;
      continue;
    }
    if (c === '$') {
      const m = /^\$[A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ k: 'var', v: m[0], pos });
      i += m[0].length;
      continue;
    }
    if (c === '.') {
      const m = /^\.[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
      if (m) {
        // A field after a variable or a paren binds to it: `$labels.x`.
        out.push({ k: 'field', v: m[0].slice(1), pos });
        i += m[0].length;
      } else {
        out.push({ k: 'dot', v: '.', pos });
        i++;
      }
      continue;
    }
    const num = /^[-+]?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)/.exec(src.slice(i));
    if (num && (c !== '+' && c !== '-' ? true : /\d/.test(src[i + 1] ?? ''))) {
      out.push({ k: 'number', v: num[0], pos });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      const v = id[0];
      out.push({ k: v === 'true' || v === 'false' ? 'bool' : v === 'nil' ? 'nil' : 'ident', v, pos });
      i += v.length;
      continue;
    }
    throw err(`unexpected ${JSON.stringify(c)} in command`);
  }
  return out;
}

// ---- parse tree ---------------------------------------------------------------------

type Operand =
  | { t: 'var'; name: string; fields: string[] }
  | { t: 'dot'; fields: string[] }
  | { t: 'lit'; value: unknown }
  | { t: 'fn'; name: string }
  | { t: 'pipe'; pipe: Pipeline; fields: string[] };

interface Command {
  args: Operand[];
}

interface Pipeline {
  decl: string[];
  assign: boolean;
  cmds: Command[];
}

type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pipe: Pipeline }
  | { t: 'if' | 'with'; pipe: Pipeline; list: Node[]; elseList: Node[] }
  | { t: 'range'; pipe: Pipeline; list: Node[]; elseList: Node[] };

type Fn = (args: unknown[], ctx: ExecCtx) => unknown;

interface ExecCtx {
  opts: ExecOptions;
}

const FUNCS: Record<string, Fn> = {
  humanize: ([v]) => humanize(toNumber(v)),
  humanize1024: ([v]) => humanize1024(toNumber(v)),
  humanizeDuration: ([v]) => humanizeDuration(toNumber(v)),
  humanizePercentage: ([v]) => humanizePercentage(toNumber(v)),
  humanizeTimestamp: ([v]) => humanizeTimestamp(toNumber(v)),
  toTime: ([v]) => new Date(toNumber(v) * 1000).toISOString(),
  printf: ([f, ...rest]) => sprintf(String(f), rest),
  print: (args) => args.map(toText).join(''),
  println: (args) => args.map(toText).join(' ') + '\n',
  toUpper: ([s]) => toText(s).toUpperCase(),
  toLower: ([s]) => toText(s).toLowerCase(),
  title: ([s]) => toText(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  reReplaceAll: ([pattern, repl, text]) => {
    const re = new RegExp(String(pattern), 'gu');
    // Go expands $1 / ${1} / ${name}; JS uses $1 / $<name>.
    const r = String(repl).replace(/\$\{(\w+)\}/g, (_m, g: string) => (/^\d+$/.test(g) ? `$${g}` : `$<${g}>`));
    return toText(text).replace(re, r);
  },
  match: ([pattern, text]) => new RegExp(String(pattern), 'u').test(toText(text)),
  stripPort: ([s]) => {
    const h = toText(s);
    const m = /^\[(.*)\]:\d+$/.exec(h) ?? /^([^:]*):\d+$/.exec(h);
    return m ? m[1] : h;
  },
  stripDomain: ([s]) => {
    const h = toText(s);
    const m = /^([^.:]+)(?:\.[^:]*)?(:\d+)?$/.exec(h);
    return m && !/^\d+\.\d+\.\d+\.\d+/.test(h) ? m[1] + (m[2] ?? '') : h;
  },
  safeHtml: ([s]) => toText(s),
  html: ([s]) => toText(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`),
  urlquery: (args) => encodeURIComponent(args.map(toText).join('')),
  js: ([s]) => JSON.stringify(toText(s)).slice(1, -1),
  args: (args) => Object.fromEntries(args.map((a, i) => [`arg${i}`, a])),
  label: ([name, s]) => (s as TemplateSample | undefined)?.Labels?.[String(name)] ?? '',
  value: ([s]) => (s as TemplateSample | undefined)?.Value,
  strvalue: ([s]) => (s as TemplateSample | undefined)?.Labels?.__value__ ?? '',
  first: ([v]) => {
    if (!Array.isArray(v) || v.length === 0) throw new Error('first() called on vector with no elements');
    return v[0];
  },
  sortByLabel: ([name, v]) =>
    Array.isArray(v)
      ? [...(v as TemplateSample[])].sort((a, b) => (a.Labels[String(name)] ?? '').localeCompare(b.Labels[String(name)] ?? ''))
      : v,
  parseDuration: ([s]) => parseGoDurationSeconds(toText(s)),
  eq: ([a, ...bs]) => bs.some((b) => a === b),
  ne: ([a, b]) => a !== b,
  lt: ([a, b]) => (a as number) < (b as number),
  le: ([a, b]) => (a as number) <= (b as number),
  gt: ([a, b]) => (a as number) > (b as number),
  ge: ([a, b]) => (a as number) >= (b as number),
  not: ([a]) => !truth(a),
  and: (args) => {
    for (const a of args) if (!truth(a)) return a;
    return args[args.length - 1];
  },
  or: (args) => {
    for (const a of args) if (truth(a)) return a;
    return args[args.length - 1];
  },
  len: ([a]) => (typeof a === 'string' || Array.isArray(a) ? a.length : a && typeof a === 'object' ? Object.keys(a).length : 0),
  index: ([a, ...keys]) => {
    let cur: unknown = a;
    for (const k of keys) cur = cur == null ? undefined : (cur as Record<string, unknown>)[String(k)];
    return cur ?? '';
  },
  // `query` is async and handled by the executor; listed here so parsing accepts it.
  query: () => undefined,
  externalURL: () => undefined,
  pathPrefix: () => '',
  graphLink: ([e]) => `/graph?g0.expr=${encodeURIComponent(toText(e))}&g0.tab=0`,
  tableLink: ([e]) => `/graph?g0.expr=${encodeURIComponent(toText(e))}&g0.tab=1`,
};

function parseGoDurationSeconds(s: string): number {
  const re = /(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  const unit: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * unit[m[2]];
    consumed += m[0].length;
  }
  if (consumed !== s.length || s === '') throw new Error(`time: invalid duration ${JSON.stringify(s)}`);
  return total;
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const n = Number(v);
    if (v.trim() === '' || Number.isNaN(n)) {
      if (/^[+-]?(inf|infinity)$/i.test(v)) return v.startsWith('-') ? -Infinity : Infinity;
      if (/^nan$/i.test(v)) return NaN;
      throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(v)}: invalid syntax`);
    }
    return n;
  }
  if (v && typeof v === 'object' && 'Value' in v) return toNumber((v as TemplateSample).Value);
  throw new Error(`can't convert ${toText(v)} to a number`);
}

function truth(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

// ---- parser -------------------------------------------------------------------------

/** The variables Prometheus defines for rule templates. */
export const PROMETHEUS_VARS = ['$labels', '$externalLabels', '$externalURL', '$value'] as const;

/** A parsed template; {@link Template.execute} may be called any number of times. */
export class Template {
  /** The output when the template has no actions (plain text), else undefined. */
  readonly constant: string | undefined;
  /** True when the template calls `query`, so its output depends on more than its data. */
  readonly usesQuery: boolean;

  private constructor(
    readonly name: string,
    private readonly nodes: Node[],
  ) {
    this.constant = nodes.every((n) => n.t === 'text') ? nodes.map((n) => (n as { text: string }).text).join('') : undefined;
    this.usesQuery = nodes.some(nodeUsesQuery);
  }

  /** Parses `text`; throws {@link TemplateError} naming the line and the problem. */
  static parse(name: string, text: string, predefined: readonly string[] = PROMETHEUS_VARS): Template {
    return new Template(name, new Parser(name, text, predefined).parseAll());
  }

  /** Renders the template with Prometheus's variables bound from `data`. */
  async execute(data: TemplateData, opts: ExecOptions = {}): Promise<string> {
    const vars = new Map<string, unknown>([
      ['$', data],
      ['$labels', data.Labels],
      ['$externalLabels', data.ExternalLabels],
      ['$externalURL', data.ExternalURL],
      ['$value', data.Value],
    ]);
    const out: string[] = [];
    try {
      await execList(this.nodes, data, [vars], out, { opts });
    } catch (err) {
      if (err instanceof TemplateError) throw err;
      throw new TemplateError(`template: ${this.name}: error executing: ${(err as Error).message}`);
    }
    return out.join('');
  }
}

function nodeUsesQuery(n: Node): boolean {
  if (n.t === 'text') return false;
  if (pipeUsesQuery(n.pipe)) return true;
  return n.t !== 'action' && (n.list.some(nodeUsesQuery) || n.elseList.some(nodeUsesQuery));
}

function pipeUsesQuery(p: Pipeline): boolean {
  return p.cmds.some((c) => c.args.some((a) => (a.t === 'fn' && a.name === 'query') || (a.t === 'pipe' && pipeUsesQuery(a.pipe))));
}

class Parser {
  private pos = 0;
  private readonly scopes: Array<Set<string>>;
  constructor(
    private readonly name: string,
    private readonly src: string,
    predefined: readonly string[],
  ) {
    this.scopes = [new Set(['$', ...predefined])];
  }

  private lineAt(p: number): number {
    let n = 1;
    for (let i = 0; i < p && i < this.src.length; i++) if (this.src[i] === '\n') n++;
    return n;
  }

  private err(p: number, msg: string): TemplateError {
    return new TemplateError(`template: ${this.name}:${this.lineAt(p)}: ${msg}`);
  }

  parseAll(): Node[] {
    const { list, end } = this.parseList();
    if (end) throw this.err(end.pos, `unexpected {{${end.word}}}`);
    return list;
  }

  /** Reads nodes until `{{end}}`/`{{else}}` or EOF; returns the stopping keyword. */
  private parseList(): { list: Node[]; end?: { word: 'end' | 'else'; rest: string; pos: number } } {
    const list: Node[] = [];
    while (this.pos < this.src.length) {
      const open = this.src.indexOf('{{', this.pos);
      let text = open < 0 ? this.src.slice(this.pos) : this.src.slice(this.pos, open);
      if (open < 0) {
        if (text) list.push({ t: 'text', text });
        this.pos = this.src.length;
        break;
      }
      let start = open + 2;
      if (this.src[start] === '-' && /\s/.test(this.src[start + 1] ?? '')) {
        text = text.replace(/\s+$/, '');
        start++;
      }
      if (text) list.push({ t: 'text', text });
      const close = this.findClose(start);
      if (close < 0) throw this.err(open, 'unclosed action');
      let inner = this.src.slice(start, close);
      let after = close + 2;
      if (/\s-$/.test(inner)) {
        inner = inner.slice(0, -1);
        while (after < this.src.length && /\s/.test(this.src[after])) after++;
      }
      this.pos = after;
      const trimmed = inner.trim();
      if (trimmed.startsWith('/*')) {
        if (!trimmed.endsWith('*/')) throw this.err(open, 'unclosed comment');
        continue;
      }
      const kw = /^(if|else|end|range|with|define|template|block|break|continue)\b/.exec(trimmed)?.[1];
      if (kw === 'end') return { list, end: { word: 'end', rest: '', pos: open } };
      if (kw === 'else') return { list, end: { word: 'else', rest: trimmed.slice(4).trim(), pos: open } };
      if (kw === 'if' || kw === 'with' || kw === 'range') {
        list.push(this.parseControl(kw, trimmed.slice(kw.length), start + inner.indexOf(kw) + kw.length, open));
        continue;
      }
      if (kw) throw this.err(open, `{{${kw}}} is not supported`);
      const pipe = this.parsePipeline(trimmed, start + inner.indexOf(trimmed), open);
      list.push({ t: 'action', pipe });
    }
    return { list };
  }

  private findClose(from: number): number {
    let i = from;
    while (i < this.src.length) {
      const c = this.src[i];
      if (c === '"') {
        i++;
        while (i < this.src.length && this.src[i] !== '"') i += this.src[i] === '\\' ? 2 : 1;
        i++;
        continue;
      }
      if (c === '`') {
        const j = this.src.indexOf('`', i + 1);
        if (j < 0) return -1;
        i = j + 1;
        continue;
      }
      if (c === '}' && this.src[i + 1] === '}') return i;
      i++;
    }
    return -1;
  }

  private parseControl(kw: 'if' | 'with' | 'range', rest: string, base: number, open: number): Node {
    this.scopes.push(new Set());
    const pipe = this.parsePipeline(rest.trim(), base, open, kw === 'range');
    if (pipe.cmds.length === 0) throw this.err(open, `missing value for ${kw}`);
    const body = this.parseList();
    let elseList: Node[] = [];
    this.scopes.pop();
    if (!body.end) throw this.err(open, `unexpected EOF`);
    if (body.end.word === 'else') {
      const elseRest = body.end.rest;
      const chained = /^(if|with)\b/.exec(elseRest)?.[1] as 'if' | 'with' | undefined;
      if (chained) {
        // `else if` behaves as a nested if that shares the outer `end`.
        elseList = [this.parseControl(chained, elseRest.slice(chained.length), base, body.end.pos)];
      } else {
        this.scopes.push(new Set());
        const e = this.parseList();
        this.scopes.pop();
        if (!e.end || e.end.word !== 'end') throw this.err(open, `expected end; found ${e.end ? '{{else}}' : 'EOF'}`);
        elseList = e.list;
      }
    } else if (body.end.word !== 'end') {
      throw this.err(open, 'expected end');
    }
    return { t: kw, pipe, list: body.list, elseList };
  }

  private declared(name: string): boolean {
    return this.scopes.some((s) => s.has(name));
  }

  private parsePipeline(src: string, base: number, open: number, isRange = false): Pipeline {
    return this.parseTokens(lexAction(src, base, this.name, () => this.lineAt(open)), open, isRange);
  }

  private parseTokens(toks: Tok[], open: number, isRange = false): Pipeline {
    let i = 0;
    const decl: string[] = [];
    let assign = false;
    // `$x := pipeline`, `$x = pipeline`, `$k, $v := range`.
    const declEnd = toks.findIndex((t) => t.k === ':=' || t.k === '=');
    if (declEnd > 0 && toks.slice(0, declEnd).every((t) => t.k === 'var' || t.k === ',')) {
      for (const t of toks.slice(0, declEnd)) if (t.k === 'var') decl.push(t.v);
      if (decl.length > (isRange ? 2 : 1)) throw this.err(open, 'too many declarations');
      assign = toks[declEnd].k === '=';
      if (assign) {
        for (const d of decl) if (!this.declared(d)) throw this.err(open, `undefined variable "${d}"`);
      }
      i = declEnd + 1;
    }
    const cmds: Command[] = [];
    let cur: Operand[] = [];
    const readOperand = (): Operand => {
      const t = toks[i++];
      let op: Operand;
      switch (t.k) {
        case 'var':
          if (!this.declared(t.v)) throw this.err(open, `undefined variable "${t.v}"`);
          op = { t: 'var', name: t.v, fields: [] };
          break;
        case 'field':
          op = { t: 'dot', fields: [t.v] };
          break;
        case 'dot':
          op = { t: 'dot', fields: [] };
          break;
        case 'string':
          op = { t: 'lit', value: t.v };
          break;
        case 'number':
          op = { t: 'lit', value: Number(t.v) };
          break;
        case 'bool':
          op = { t: 'lit', value: t.v === 'true' };
          break;
        case 'nil':
          op = { t: 'lit', value: null };
          break;
        case 'ident':
          if (!(t.v in FUNCS)) throw this.err(open, `function "${t.v}" not defined`);
          op = { t: 'fn', name: t.v };
          break;
        case '(': {
          let depth = 1;
          const start = i;
          while (i < toks.length && depth > 0) {
            if (toks[i].k === '(') depth++;
            if (toks[i].k === ')') depth--;
            i++;
          }
          if (depth !== 0) throw this.err(open, 'unclosed left paren');
          const inner = toks.slice(start, i - 1);
          op = { t: 'pipe', pipe: this.parseTokens(inner, open), fields: [] };
          break;
        }
        default:
          throw this.err(open, `unexpected "${t.v}" in operand`);
      }
      while (i < toks.length && toks[i].k === 'field' && op.t !== 'lit' && op.t !== 'fn') {
        (op as { fields: string[] }).fields.push(toks[i++].v);
      }
      return op;
    };
    while (i < toks.length) {
      if (toks[i].k === '|') {
        if (cur.length === 0) throw this.err(open, 'missing command');
        cmds.push({ args: cur });
        cur = [];
        i++;
        continue;
      }
      cur.push(readOperand());
    }
    if (cur.length) cmds.push({ args: cur });
    else if (cmds.length) throw this.err(open, 'missing command');
    for (const d of decl) this.scopes[this.scopes.length - 1].add(d);
    for (const c of cmds) {
      if (c.args[0].t !== 'fn' && c.args.length > 1) throw this.err(open, `can't give argument to non-function ${describe(c.args[0])}`);
    }
    return { decl, assign, cmds };
  }

}

function describe(op: Operand): string {
  if (op.t === 'var') return op.name;
  if (op.t === 'lit') return JSON.stringify(op.value);
  if (op.t === 'dot') return '.' + op.fields.join('.');
  return 'pipeline';
}

// ---- execution ----------------------------------------------------------------------

type Scope = Array<Map<string, unknown>>;

function lookupVar(scope: Scope, name: string): unknown {
  for (let i = scope.length - 1; i >= 0; i--) if (scope[i].has(name)) return scope[i].get(name);
  throw new Error(`undefined variable: ${name}`);
}

function field(v: unknown, f: string): unknown {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'object') throw new Error(`can't evaluate field ${f} in type ${typeof v}`);
  const o = v as Record<string, unknown>;
  // Labels maps hold strings: Go prints "" for a missing key there, not "<no value>".
  return f in o ? o[f] : '';
}

async function evalOperand(op: Operand, dot: unknown, scope: Scope, ctx: ExecCtx): Promise<unknown> {
  let v: unknown;
  switch (op.t) {
    case 'lit':
      return op.value;
    case 'fn':
      return callFn(op.name, [], ctx);
    case 'var':
      v = lookupVar(scope, op.name);
      break;
    case 'dot':
      v = dot;
      break;
    case 'pipe':
      v = await evalPipeline(op.pipe, dot, scope, ctx);
      break;
  }
  for (const f of op.fields) v = field(v, f);
  return v;
}

async function callFn(name: string, args: unknown[], ctx: ExecCtx): Promise<unknown> {
  if (name === 'query') {
    if (!ctx.opts.query) throw new Error('query is not available here');
    return ctx.opts.query(String(args[0]));
  }
  return FUNCS[name](args, ctx);
}

async function evalPipeline(p: Pipeline, dot: unknown, scope: Scope, ctx: ExecCtx): Promise<unknown> {
  let prev: unknown;
  let first = true;
  for (const c of p.cmds) {
    const head = c.args[0];
    if (head.t === 'fn') {
      const args: unknown[] = [];
      for (const a of c.args.slice(1)) args.push(await evalOperand(a, dot, scope, ctx));
      if (!first) args.push(prev);
      prev = await callFn(head.name, args, ctx);
    } else {
      if (!first) throw new Error(`can't give argument to non-function ${describe(head)}`);
      prev = await evalOperand(head, dot, scope, ctx);
    }
    first = false;
  }
  if (p.decl.length === 1) setVar(scope, p.decl[0], prev, p.assign);
  return prev;
}

function setVar(scope: Scope, name: string, v: unknown, assign: boolean): void {
  if (assign) {
    for (let i = scope.length - 1; i >= 0; i--) {
      if (scope[i].has(name)) {
        scope[i].set(name, v);
        return;
      }
    }
  }
  scope[scope.length - 1].set(name, v);
}

async function execList(nodes: Node[], dot: unknown, scope: Scope, out: string[], ctx: ExecCtx): Promise<void> {
  for (const n of nodes) {
    switch (n.t) {
      case 'text':
        out.push(n.text);
        break;
      case 'action': {
        const v = await evalPipeline(n.pipe, dot, scope, ctx);
        if (n.pipe.decl.length === 0) out.push(toText(v));
        break;
      }
      case 'if':
      case 'with': {
        const inner: Scope = [...scope, new Map()];
        const v = await evalPipeline(n.pipe, dot, inner, ctx);
        if (truth(v)) await execList(n.list, n.t === 'with' ? v : dot, inner, out, ctx);
        else await execList(n.elseList, dot, [...scope, new Map()], out, ctx);
        break;
      }
      case 'range': {
        const inner: Scope = [...scope, new Map()];
        const rangePipe: Pipeline = { ...n.pipe, decl: [] };
        const v = await evalPipeline(rangePipe, dot, inner, ctx);
        const entries: Array<[unknown, unknown]> = Array.isArray(v)
          ? v.map((x, i) => [i, x])
          : v && typeof v === 'object'
            ? Object.keys(v)
                .sort()
                .map((k) => [k, (v as Record<string, unknown>)[k]])
            : [];
        if (entries.length === 0) {
          await execList(n.elseList, dot, [...scope, new Map()], out, ctx);
          break;
        }
        for (const [k, x] of entries) {
          const s: Scope = [...scope, new Map()];
          if (n.pipe.decl.length === 1) s[s.length - 1].set(n.pipe.decl[0], x);
          if (n.pipe.decl.length === 2) {
            s[s.length - 1].set(n.pipe.decl[0], k);
            s[s.length - 1].set(n.pipe.decl[1], x);
          }
          await execList(n.list, x, s, out, ctx);
        }
        break;
      }
    }
  }
}
