/**
 * PromQL text → typed AST ({@link Expr}), using the Prometheus project's own Lezer grammar
 * (`@prometheus-io/lezer-promql`) for the syntax and re-implementing the checks of
 * Prometheus's Go parser (types of operands and arguments, modifier placement) on top.
 */
import { parser as lezer } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import { parseDuration, METRIC_NAME } from '../../shared/index.js';
import type { Matcher, MatchType } from '../storage/index.js';
import { anchoredRegex, matchValue } from '../storage/index.js';
import type {
  AggregateExpr,
  AggregateOp,
  AtModifier,
  BinaryExpr,
  BinaryOp,
  Expr,
  PosRange,
  SubqueryExpr,
  ValueType,
  VectorMatching,
  VectorSelector,
} from './ast.js';
import { AGGREGATE_OPS, COMPARISON_OPS, SET_OPS, exprType } from './ast.js';
import { FUNCTIONS, UNSUPPORTED_FUNCTIONS } from './function-signatures.js';
import { re2ToJs } from './regex.js';

/**
 * A query that does not parse or type-check. `message` reads as Prometheus's
 * (`1:5: parse error: unexpected end of input`); `pos` is the offending character range.
 */
export class ParseError extends Error {
  readonly code = 'KP_ERR_PROMQL_PARSE';
  readonly pos: PosRange;
  readonly line: number;
  readonly column: number;
  /** The message without the position prefix. */
  readonly detail: string;
  constructor(query: string, pos: PosRange, detail: string) {
    const { line, column } = lineCol(query, pos.start);
    super(`${line}:${column}: parse error: ${detail}`);
    this.name = 'ParseError';
    this.pos = pos;
    this.line = line;
    this.column = column;
    this.detail = detail;
  }
}

function lineCol(query: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < query.length; i++) {
    if (query[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

const TYPE_NAMES: Record<ValueType, string> = {
  scalar: 'scalar',
  vector: 'instant vector',
  matrix: 'range vector',
  string: 'string',
};

/** Prometheus's name for a value type in error messages ("instant vector", …). */
export function documentedType(t: ValueType): string {
  return TYPE_NAMES[t];
}

/** Parses and type-checks a PromQL expression; throws {@link ParseError}. */
export function parseExpr(query: string): Expr {
  return new Converter(query).run();
}

/** Parses a series selector (`foo{a="b"}`) as the `match[]` API parameters need. */
export function parseSeriesSelector(query: string): Matcher[] {
  const e = parseExpr(query);
  if (e.kind !== 'VectorSelector' || e.offsetMs !== 0 || e.at !== undefined) {
    throw new ParseError(query, { start: 0, end: query.length }, 'expected a series selector');
  }
  return [...e.matchers];
}

function children(n: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = n.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
}

function findError(n: SyntaxNode): SyntaxNode | undefined {
  if (n.type.isError) return n;
  for (let c = n.firstChild; c; c = c.nextSibling) {
    const e = findError(c);
    if (e) return e;
  }
  return undefined;
}

const BINARY_OPS: Record<string, BinaryOp> = {
  Pow: '^',
  Mul: '*',
  Div: '/',
  Mod: '%',
  Atan2: 'atan2',
  Add: '+',
  Sub: '-',
  Eql: '==',
  Neq: '!=',
  Gtr: '>',
  Lss: '<',
  Gte: '>=',
  Lte: '<=',
  And: 'and',
  Or: 'or',
  Unless: 'unless',
};

const MATCH_OPS: Record<string, MatchType> = { EqlSingle: '=', Neq: '!=', EqlRegex: '=~', NeqRegex: '!~' };

class Converter {
  private readonly q: string;
  /** True when `holt_winters` was renamed for the grammar (see {@link renameHoltWinters}). */
  private readonly renamedHw: boolean;
  constructor(q: string) {
    const fixed = trailingDotNumbers(q);
    this.q = renameHoltWinters(fixed);
    this.renamedHw = this.q !== fixed;
  }

  run(): Expr {
    if (this.q.trim() === '') throw new ParseError(this.q, { start: 0, end: 0 }, 'no expression found in input');
    const tree = lezer.parse(this.q);
    const top = tree.topNode;
    const err = findError(top);
    if (err) this.syntaxError(err);
    const kids = children(top).filter((c) => c.name !== 'LineComment');
    if (kids.length !== 1) throw this.err(top, 'unexpected input');
    return this.expr(kids[0]);
  }

  private text(n: SyntaxNode): string {
    return this.q.slice(n.from, n.to);
  }

  private err(n: SyntaxNode | PosRange, msg: string): ParseError {
    const pos = 'from' in n ? { start: n.from, end: n.to } : n;
    return new ParseError(this.q, pos, msg);
  }

  private syntaxError(e: SyntaxNode): never {
    // Prometheus says "unknown function" where Lezer sees a selector followed by junk.
    const prev = e.prevSibling ?? e.parent?.prevSibling;
    const identBefore = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/.exec(this.q.slice(0, e.from));
    const rest = this.q.slice(e.from).trimStart();
    if (identBefore && rest.startsWith('(') && prev !== null) {
      const name = identBefore[1];
      const reason = UNSUPPORTED_FUNCTIONS.get(name);
      if (reason) throw this.err({ start: e.from - name.length, end: e.from }, `function "${name}" is not supported: ${reason}`);
      if (!AGGREGATE_OPS.includes(name as AggregateOp)) {
        throw this.err({ start: e.from - name.length, end: e.from }, `unknown function with name "${name}"`);
      }
    }
    const tail = this.q.slice(e.from);
    const fn = /^\s*(step|range|min_of|max_of)\s*\(/i.exec(tail);
    if (fn) throw this.err(e, `duration expressions are not supported (${fn[1]}() is experimental in Prometheus 3.x)`);
    if (tail.trim() === '') throw this.err({ start: e.from, end: e.from }, 'unexpected end of input');
    const tok = /^\s*(\S+?)(?=[\s(){}[\],]|$)/.exec(tail)?.[1] ?? tail.trim()[0];
    const str = e.to > e.from ? this.q.slice(e.from, e.to).trim() : tok;
    if (/^["'`]/.test(str) && !/^(["'`]).*\1$/s.test(str)) throw this.err(e, 'unterminated quoted string');
    throw this.err({ start: e.from, end: Math.max(e.to, e.from + 1) }, `unexpected ${JSON.stringify(str || tok)}`);
  }

  private expr(n: SyntaxNode): Expr {
    const pos = { start: n.from, end: n.to };
    const ks = children(n).filter((c) => c.name !== 'LineComment');
    switch (n.name) {
      case 'NumberDurationLiteral':
        return { kind: 'NumberLiteral', value: parseNumber(this.text(n)), pos };
      case 'StringLiteral':
        return { kind: 'StringLiteral', value: this.unquote(n), pos };
      case 'ParenExpr':
        return { kind: 'ParenExpr', expr: this.expr(ks[0]), pos };
      case 'VectorSelector':
        return this.vectorSelector(n, ks);
      case 'MatrixSelector': {
        const inner = this.expr(ks[0]);
        if (inner.kind !== 'VectorSelector') throw this.err(n, 'ranges only allowed for vector selectors');
        if (inner.offsetMs !== 0 || inner.at !== undefined) throw this.err(n, 'no offset or @ modifiers allowed before range');
        const rangeMs = this.duration(ks[1]);
        if (rangeMs <= 0) throw this.err(ks[1], `range must be greater than 0, got ${this.text(ks[1])}`);
        return { kind: 'MatrixSelector', vs: inner, rangeMs, pos };
      }
      case 'SubqueryExpr': {
        const inner = this.expr(ks[0]);
        const t = exprType(inner);
        if (t !== 'vector') throw this.err(n, `subquery is only allowed on instant vector, got ${documentedType(t)} instead`);
        const rangeMs = this.duration(ks[1]);
        if (rangeMs <= 0) throw this.err(ks[1], `range must be greater than 0, got ${this.text(ks[1])}`);
        const stepMs = ks[2] ? this.duration(ks[2]) : undefined;
        if (stepMs !== undefined && stepMs <= 0) throw this.err(ks[2], `step must be greater than 0, got ${this.text(ks[2])}`);
        return { kind: 'SubqueryExpr', expr: inner, rangeMs, stepMs, offsetMs: 0, at: undefined, pos };
      }
      case 'OffsetExpr': {
        const target = this.expr(ks[0]);
        const sign = this.offsetValue(ks[2]);
        const holder = this.modifierTarget(target, n, 'offset modifier');
        if (holder.offsetMs !== 0) throw this.err(n, 'offset may not be set multiple times');
        holder.offsetMs = sign;
        return target;
      }
      case 'StepInvariantExpr': {
        const target = this.expr(ks[0]);
        const holder = this.modifierTarget(target, n, '@ modifier');
        if (holder.at !== undefined) throw this.err(n, '@ <timestamp> may not be set multiple times');
        let at: AtModifier;
        if (ks[2].name === 'AtModifierPreprocessors') {
          at = ks[2].firstChild?.name === 'AtStart' ? 'start' : 'end';
        } else {
          const secs = parseNumber(this.text(ks[2]));
          if (!Number.isFinite(secs)) throw this.err(ks[2], `timestamp out of bounds for @ modifier: ${secs}`);
          at = Math.round(secs * 1000);
        }
        holder.at = at;
        return target;
      }
      case 'UnaryExpr': {
        const op = this.text(ks[0]) === '-' ? '-' : '+';
        const inner = this.expr(ks[1]);
        const t = exprType(inner);
        if (t !== 'scalar' && t !== 'vector') {
          throw this.err(n, `unary expression only allowed on expressions of type scalar or instant vector, got "${documentedType(t)}"`);
        }
        return { kind: 'UnaryExpr', op, expr: inner, pos };
      }
      case 'BinaryExpr':
        return this.binary(n, ks);
      case 'FunctionCall':
        return this.call(n, ks);
      case 'AggregateExpr':
        return this.aggregate(n, ks);
      case 'AnchoredExpr':
      case 'SmoothedExpr':
        throw this.err(n, 'anchored and smoothed range modifiers are not supported (experimental in Prometheus 3.x)');
      default:
        throw this.err(n, `unexpected ${JSON.stringify(this.text(n))}`);
    }
  }

  private modifierTarget(target: Expr, n: SyntaxNode, what: string): VectorSelector | SubqueryExpr {
    if (target.kind === 'VectorSelector' || target.kind === 'SubqueryExpr') return target;
    if (target.kind === 'MatrixSelector') return target.vs;
    // Lezer attaches a trailing modifier to the whole binary/unary expression; Prometheus
    // binds it to the operand right before it.
    if (target.kind === 'BinaryExpr') return this.modifierTarget(target.rhs, n, what);
    if (target.kind === 'UnaryExpr') return this.modifierTarget(target.expr, n, what);
    throw this.err(n, `${what} must be preceded by an instant vector selector or range vector selector or a subquery`);
  }

  private offsetValue(n: SyntaxNode): number {
    const ks = children(n);
    if (ks[0]?.name === 'UnaryOp') {
      const v = this.offsetValue(ks[1]);
      return this.text(ks[0]) === '-' ? -v : v;
    }
    if (ks[0]?.name !== 'NumberDurationLiteralInDurationContext') throw this.err(n, 'duration expressions are not supported');
    return this.durationText(ks[0]);
  }

  private duration(n: SyntaxNode): number {
    const ks = children(n);
    if (ks.length !== 1 || ks[0].name !== 'NumberDurationLiteralInDurationContext') {
      throw this.err(n, 'duration expressions are not supported (experimental in Prometheus 3.x)');
    }
    return this.durationText(ks[0]);
  }

  private durationText(n: SyntaxNode): number {
    const s = this.text(n);
    if (/^\d/.test(s) && /[a-z]$/.test(s)) {
      try {
        return parseDuration(s);
      } catch {
        throw this.err(n, `bad duration syntax: ${JSON.stringify(s)}`);
      }
    }
    const v = parseNumber(s);
    if (!Number.isFinite(v)) throw this.err(n, `bad duration syntax: ${JSON.stringify(s)}`);
    return Math.round(v * 1000);
  }

  private vectorSelector(n: SyntaxNode, ks: SyntaxNode[]): VectorSelector {
    let name: string | undefined;
    const matchers: Matcher[] = [];
    for (const k of ks) {
      if (k.name === 'Identifier') name = this.text(k);
      else if (k.name === 'LabelMatchers') {
        for (const m of children(k)) {
          if (m.name === 'QuotedLabelName') {
            const v = this.unquote(m.firstChild ?? m);
            if (name !== undefined) throw this.err(m, `metric name must not be set twice: ${JSON.stringify(name)} or ${JSON.stringify(v)}`);
            name = v;
            continue;
          }
          const mk = children(m);
          const lname = m.name === 'QuotedLabelMatcher' ? this.unquote(mk[0].firstChild ?? mk[0]) : this.text(mk[0]);
          const type = MATCH_OPS[mk[1].firstChild?.name ?? ''];
          let value = this.unquote(mk[2]);
          if (type === '=~' || type === '!~') {
            try {
              value = re2ToJs(value);
              anchoredRegex(value);
            } catch (err) {
              throw this.err(mk[2], `invalid regular expression ${JSON.stringify(value)}: ${(err as Error).message}`);
            }
          }
          matchers.push({ type, name: lname, value });
        }
      }
    }
    if (name !== undefined) {
      const nm = matchers.find((m) => m.name === METRIC_NAME);
      if (nm) throw this.err(n, `metric name must not be set twice: ${JSON.stringify(name)} or ${JSON.stringify(nm.value)}`);
      matchers.unshift({ type: '=', name: METRIC_NAME, value: name });
    }
    if (matchers.every((m) => matchValue(m, ''))) {
      throw this.err(n, 'vector selector must contain at least one non-empty matcher');
    }
    return { kind: 'VectorSelector', name, matchers, offsetMs: 0, at: undefined, pos: { start: n.from, end: n.to } };
  }

  private binary(n: SyntaxNode, ks: SyntaxNode[]): Expr {
    const pos = { start: n.from, end: n.to };
    const opNode = ks[1];
    const op = BINARY_OPS[opNode.name];
    if (!op) throw this.err(opNode, `operator ${JSON.stringify(this.text(opNode))} is not supported`);
    // Prometheus's lexer has no signed literals: `-1 ^ 2` is `-(1 ^ 2)`.
    if (op === '^' && ks[0].name === 'NumberDurationLiteral' && /^[-+]/.test(this.text(ks[0]))) {
      const sign = this.text(ks[0])[0] as '-' | '+';
      const abs: Expr = { kind: 'NumberLiteral', value: parseNumber(this.text(ks[0]).slice(1)), pos: { start: ks[0].from + 1, end: ks[0].to } };
      const rhs = this.expr(ks[ks.length - 1]);
      const inner = this.checkBinary(n, op, abs, rhs, ks.slice(2, -1), { start: abs.pos.start, end: n.to });
      return { kind: 'UnaryExpr', op: sign, expr: inner, pos };
    }
    const lhs = this.expr(ks[0]);
    const rhs = this.expr(ks[ks.length - 1]);
    return this.checkBinary(n, op, lhs, rhs, ks.slice(2, -1), pos);
  }

  private checkBinary(n: SyntaxNode, op: BinaryOp, lhs: Expr, rhs: Expr, mods: SyntaxNode[], pos: PosRange): BinaryExpr {
    let returnBool = false;
    let clause: SyntaxNode | undefined;
    for (const m of mods) {
      if (m.name === 'BoolModifier') returnBool = true;
      else if (m.name === 'MatchingModifierClause') clause = m;
      else if (m.name === 'FillModifier') throw this.err(m, 'fill modifiers are not supported (experimental in Prometheus 3.x)');
    }
    const lt = exprType(lhs);
    const rt = exprType(rhs);
    if ((lt !== 'scalar' && lt !== 'vector') || (rt !== 'scalar' && rt !== 'vector')) {
      throw this.err(n, 'binary expression must contain only scalar and instant vector types');
    }
    const isCmp = COMPARISON_OPS.has(op);
    const isSet = SET_OPS.has(op);
    if (returnBool && !isCmp) throw this.err(n, 'bool modifier can only be used on comparison operators');
    if (isCmp && !returnBool && lt === 'scalar' && rt === 'scalar') {
      throw this.err(n, 'comparisons between scalars must use BOOL modifier');
    }
    if (isSet && (lt === 'scalar' || rt === 'scalar')) {
      throw this.err(n, `set operator "${op}" not allowed in binary scalar expression`);
    }
    let matching: VectorMatching | undefined;
    if (lt === 'vector' && rt === 'vector') {
      matching = { card: isSet ? 'many-to-many' : 'one-to-one', matchingLabels: [], on: false, include: [] };
    }
    if (clause) {
      if (!matching) throw this.err(clause, 'vector matching only allowed between instant vectors');
      const cks = children(clause);
      const on = cks[0].name === 'On';
      const matchingLabels = this.groupingLabels(cks[1]);
      let card: VectorMatching['card'] = matching.card;
      let include: string[] = [];
      if (cks[2]) {
        if (isSet) throw this.err(clause, `no grouping allowed for "${op}" operation`);
        card = cks[2].name === 'GroupLeft' ? 'many-to-one' : 'one-to-many';
        if (cks[3]) include = this.groupingLabels(cks[3]);
        if (on) {
          for (const l of include) {
            if (matchingLabels.includes(l)) throw this.err(clause, `label "${l}" must not occur in ON and GROUP clause at once`);
          }
        }
      }
      matching = { card, matchingLabels, on, include };
    }
    return { kind: 'BinaryExpr', op, lhs, rhs, returnBool, matching, pos };
  }

  private groupingLabels(n: SyntaxNode): string[] {
    return children(n).map((c) => (c.name === 'QuotedLabelName' ? this.unquote(c.firstChild ?? c) : this.text(c)));
  }

  private callArgs(body: SyntaxNode): Expr[] {
    return children(body)
      .filter((c) => c.name !== 'LineComment')
      .map((c) => this.expr(c));
  }

  private call(n: SyntaxNode, ks: SyntaxNode[]): Expr {
    let name = this.text(ks[0]);
    if (name === HW_RENAMED && this.renamedHw) name = 'holt_winters';
    const reason = UNSUPPORTED_FUNCTIONS.get(name);
    if (reason) throw this.err(ks[0], `function "${name}" is not supported: ${reason}`);
    const sig = FUNCTIONS.get(name);
    if (!sig) throw this.err(ks[0], `unknown function with name "${name}"`);
    const args = this.callArgs(ks[1]);
    const nargs = args.length;
    const fixed = sig.args.length;
    if (sig.variadic === 0 && nargs !== fixed) {
      throw this.err(n, `expected ${fixed} argument(s) in call to "${name}", got ${nargs}`);
    }
    if (sig.variadic !== 0) {
      // The last declared argument is optional; variadic > 0 caps the count.
      const min = fixed - 1;
      const max = sig.variadic > 0 ? fixed - 1 + sig.variadic : Infinity;
      if (nargs < min) throw this.err(n, `expected at least ${min} argument(s) in call to "${name}", got ${nargs}`);
      if (nargs > max) throw this.err(n, `expected at most ${max} argument(s) in call to "${name}", got ${nargs}`);
    }
    args.forEach((a, i) => {
      const want = sig.args[Math.min(i, fixed - 1)];
      const got = exprType(a);
      if (got !== want) {
        throw this.err(a.pos, `expected type ${documentedType(want)} in call to function "${name}", got ${documentedType(got)}`);
      }
    });
    return { kind: 'Call', func: name, args, pos: { start: n.from, end: n.to } };
  }

  private aggregate(n: SyntaxNode, ks: SyntaxNode[]): AggregateExpr {
    const opText = this.text(ks[0]).toLowerCase();
    if (!AGGREGATE_OPS.includes(opText as AggregateOp)) {
      throw this.err(ks[0], `aggregation "${opText}" is not supported (experimental in Prometheus 3.x)`);
    }
    const op = opText as AggregateOp;
    let grouping: string[] = [];
    let without = false;
    let body: SyntaxNode | undefined;
    for (const k of ks.slice(1)) {
      if (k.name === 'AggregateModifier') {
        const mk = children(k);
        without = mk[0].name === 'Without';
        grouping = this.groupingLabels(mk[1]);
      } else if (k.name === 'FunctionCallBody') body = k;
    }
    const args = body ? this.callArgs(body) : [];
    const needsParam = op === 'topk' || op === 'bottomk' || op === 'quantile' || op === 'count_values';
    const want = needsParam ? 2 : 1;
    if (args.length !== want) {
      throw this.err(n, `wrong number of arguments for aggregate expression provided, expected ${want}, got ${args.length}`);
    }
    const expr = args[want - 1];
    const param = needsParam ? args[0] : undefined;
    const et = exprType(expr);
    if (et !== 'vector') throw this.err(expr.pos, `expected type instant vector in aggregation expression, got ${documentedType(et)}`);
    if (param) {
      const pt = exprType(param);
      const wantT: ValueType = op === 'count_values' ? 'string' : 'scalar';
      if (pt !== wantT) {
        throw this.err(param.pos, `expected type ${documentedType(wantT)} in aggregation parameter, got ${documentedType(pt)}`);
      }
    }
    return { kind: 'AggregateExpr', op, expr, param, grouping, without, pos: { start: n.from, end: n.to } };
  }

  private unquote(n: SyntaxNode): string {
    const raw = this.text(n);
    try {
      return unquoteString(raw);
    } catch (err) {
      throw this.err(n, (err as Error).message);
    }
  }
}

const HW_RENAMED = 'double_exponential_smoothing';

/**
 * The Lezer grammar tracks Prometheus 3.x, where `holt_winters` became
 * `double_exponential_smoothing`; 2.x queries still say `holt_winters`, so it is renamed
 * (outside strings) before parsing and mapped back in the AST.
 */
function renameHoltWinters(q: string): string {
  if (!q.includes('holt_winters')) return q;
  return q.replace(/("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)|\bholt_winters(?=\s*\()/g, (m, str?: string) => str ?? HW_RENAMED);
}

/**
 * Go accepts `2.` as a number; the Lezer grammar wants a digit after the dot. Rewrites
 * `2.` to `2.0` outside string literals (same length plus one per rewrite).
 */
function trailingDotNumbers(q: string): string {
  if (!/\d\.(?!\d)/.test(q)) return q;
  let out = '';
  for (let i = 0; i < q.length; i++) {
    const c = q[i];
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < q.length && q[j] !== c) j += q[j] === '\\' && c !== '`' ? 2 : 1;
      out += q.slice(i, j + 1);
      i = j;
      continue;
    }
    out += c;
    if (c === '.' && i > 0 && /\d/.test(q[i - 1]) && !/[\d]/.test(q[i + 1] ?? '')) {
      // Only when the digits before the dot start a number (not part of an identifier).
      let k = i - 1;
      while (k >= 0 && /[\d_]/.test(q[k])) k--;
      if (k < 0 || !/[a-zA-Z_:]/.test(q[k])) out += '0';
    }
  }
  return out;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
};

/** Go-style unquoting of a PromQL string literal ('…', "…" or `…`). */
export function unquoteString(raw: string): string {
  const q = raw[0];
  if (raw.length < 2 || raw[raw.length - 1] !== q) throw new Error('unterminated quoted string');
  const body = raw.slice(1, -1);
  if (q === '`') return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) throw new Error('invalid escape sequence at end of string');
    if (e in SIMPLE_ESCAPES) {
      if ((e === "'" && q === '"') || (e === '"' && q === "'")) throw new Error(`invalid escape sequence \\${e}`);
      out += SIMPLE_ESCAPES[e];
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw new Error(`invalid escape sequence \\${e}${hex}`);
      out += e === 'x' ? String.fromCharCode(parseInt(hex, 16)) : String.fromCodePoint(parseInt(hex, 16));
      i += len;
    } else if (e >= '0' && e <= '7') {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) throw new Error(`invalid escape sequence \\${oct}`);
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else {
      throw new Error(`unknown escape sequence \\${e}`);
    }
  }
  return out;
}

/** A PromQL number literal: decimal, hex, octal, Inf/NaN, or a duration (as seconds). */
export function parseNumber(text: string): number {
  let s = text.trim();
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1).trim();
  }
  const lower = s.toLowerCase();
  if (lower === 'inf' || lower === 'infinity') return sign * Infinity;
  if (lower === 'nan') return NaN;
  const clean = lower.replace(/_/g, '');
  if (/^0x[0-9a-f]+$/.test(clean)) return sign * parseInt(clean.slice(2), 16);
  if (/^0[0-7]+$/.test(clean)) return sign * parseInt(clean, 8);
  if (/^\d+(?:y|w|d|h|m|s|ms)/.test(clean) && /[a-z]$/.test(clean)) return (sign * parseDuration(clean)) / 1000;
  const v = Number(clean);
  if (Number.isNaN(v)) throw new Error(`invalid number ${JSON.stringify(text)}`);
  return sign * v;
}
