/**
 * The typed PromQL syntax tree the parser produces and the engine evaluates. It mirrors
 * Prometheus's `promql/parser/ast.go`: `offset` and `@` live on the vector selector (inside
 * a matrix selector too) or on the subquery they modify. Times are epoch milliseconds,
 * durations milliseconds. `pos` is the [start, end) character range in the query text.
 */
import type { Matcher } from '../storage/index.js';

/** The four PromQL value types, spelled as Prometheus's parser spells them in errors. */
export const ValueType = {
  SCALAR: 'scalar',
  VECTOR: 'vector',
  MATRIX: 'matrix',
  STRING: 'string',
} as const;
export type ValueType = (typeof ValueType)[keyof typeof ValueType];

export interface PosRange {
  readonly start: number;
  readonly end: number;
}

/** `@` modifier: a fixed time in ms, or the query's start/end. */
export type AtModifier = number | 'start' | 'end';

export interface NumberLiteral {
  readonly kind: 'NumberLiteral';
  readonly value: number;
  readonly pos: PosRange;
}

export interface StringLiteral {
  readonly kind: 'StringLiteral';
  readonly value: string;
  readonly pos: PosRange;
}

export interface VectorSelector {
  readonly kind: 'VectorSelector';
  /** Metric name when written before the braces; it is also among `matchers`. */
  readonly name: string | undefined;
  readonly matchers: readonly Matcher[];
  offsetMs: number;
  at: AtModifier | undefined;
  readonly pos: PosRange;
}

export interface MatrixSelector {
  readonly kind: 'MatrixSelector';
  readonly vs: VectorSelector;
  readonly rangeMs: number;
  readonly pos: PosRange;
}

export interface SubqueryExpr {
  readonly kind: 'SubqueryExpr';
  readonly expr: Expr;
  readonly rangeMs: number;
  /** Resolution; undefined means the engine's default (Prometheus: the global evaluation interval). */
  readonly stepMs: number | undefined;
  offsetMs: number;
  at: AtModifier | undefined;
  readonly pos: PosRange;
}

export interface Call {
  readonly kind: 'Call';
  readonly func: string;
  readonly args: readonly Expr[];
  readonly pos: PosRange;
}

export const AGGREGATE_OPS = [
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'group',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
] as const;
export type AggregateOp = (typeof AGGREGATE_OPS)[number];

export interface AggregateExpr {
  readonly kind: 'AggregateExpr';
  readonly op: AggregateOp;
  readonly expr: Expr;
  /** The parameter of topk/bottomk/quantile/count_values. */
  readonly param: Expr | undefined;
  readonly grouping: readonly string[];
  readonly without: boolean;
  readonly pos: PosRange;
}

export type BinaryOp =
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '^'
  | 'atan2'
  | '=='
  | '!='
  | '>'
  | '<'
  | '>='
  | '<='
  | 'and'
  | 'or'
  | 'unless';

export const COMPARISON_OPS: ReadonlySet<BinaryOp> = new Set(['==', '!=', '>', '<', '>=', '<=']);
export const SET_OPS: ReadonlySet<BinaryOp> = new Set(['and', 'or', 'unless']);

/** How the two sides of a vector/vector operation are matched (Prometheus's VectorMatching). */
export interface VectorMatching {
  readonly card: 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';
  /** Label names of `on(...)`/`ignoring(...)`. */
  readonly matchingLabels: readonly string[];
  /** True for `on`, false for `ignoring` (or no clause). */
  readonly on: boolean;
  /** Labels copied from the "one" side by group_left/group_right. */
  readonly include: readonly string[];
}

export interface BinaryExpr {
  readonly kind: 'BinaryExpr';
  readonly op: BinaryOp;
  readonly lhs: Expr;
  readonly rhs: Expr;
  readonly returnBool: boolean;
  /** Set when both sides are vectors. */
  readonly matching: VectorMatching | undefined;
  readonly pos: PosRange;
}

export interface UnaryExpr {
  readonly kind: 'UnaryExpr';
  readonly op: '+' | '-';
  readonly expr: Expr;
  readonly pos: PosRange;
}

export interface ParenExpr {
  readonly kind: 'ParenExpr';
  readonly expr: Expr;
  readonly pos: PosRange;
}

export type Expr =
  | NumberLiteral
  | StringLiteral
  | VectorSelector
  | MatrixSelector
  | SubqueryExpr
  | Call
  | AggregateExpr
  | BinaryExpr
  | UnaryExpr
  | ParenExpr;

const typeCache = new WeakMap<Expr, ValueType>();

/** The value type an expression evaluates to (Prometheus's `Expr.Type()`); memoised per node. */
export function exprType(e: Expr): ValueType {
  let t = typeCache.get(e);
  if (t === undefined) typeCache.set(e, (t = computeType(e)));
  return t;
}

function computeType(e: Expr): ValueType {
  switch (e.kind) {
    case 'NumberLiteral':
      return 'scalar';
    case 'StringLiteral':
      return 'string';
    case 'VectorSelector':
    case 'AggregateExpr':
      return 'vector';
    case 'MatrixSelector':
    case 'SubqueryExpr':
      return 'matrix';
    case 'Call':
      return FUNCTION_RETURN[e.func] ?? 'vector';
    case 'BinaryExpr':
      return exprType(e.lhs) === 'scalar' && exprType(e.rhs) === 'scalar' ? 'scalar' : 'vector';
    case 'UnaryExpr':
    case 'ParenExpr':
      return exprType(e.expr);
  }
}

const FUNCTION_RETURN: Record<string, ValueType> = { scalar: 'scalar', time: 'scalar', pi: 'scalar' };

/** The direct children of a node. */
export function childrenOf(e: Expr): Expr[] {
  switch (e.kind) {
    case 'MatrixSelector':
      return [e.vs];
    case 'SubqueryExpr':
    case 'UnaryExpr':
    case 'ParenExpr':
      return [e.expr];
    case 'Call':
      return [...e.args];
    case 'AggregateExpr':
      return e.param ? [e.param, e.expr] : [e.expr];
    case 'BinaryExpr':
      return [e.lhs, e.rhs];
    default:
      return [];
  }
}

/** Calls `fn` for every node, parents first. */
export function walk(e: Expr, fn: (e: Expr) => void): void {
  fn(e);
  for (const c of childrenOf(e)) walk(c, fn);
}
