import { describe, expect, it } from 'vitest';
import { ParseError, parseExpr, parseSeriesSelector } from './parser.js';
import { re2ToJs } from './regex.js';
import type { Expr } from './ast.js';

/** Compact rendering of an AST, enough to check structure and precedence. */
function show(e: Expr): string {
  switch (e.kind) {
    case 'NumberLiteral':
      return String(e.value);
    case 'StringLiteral':
      return JSON.stringify(e.value);
    case 'VectorSelector':
      return `${e.matchers.map((m) => `${m.name}${m.type}${m.value}`).join(',')}${e.offsetMs ? ` offset ${e.offsetMs}` : ''}${e.at !== undefined ? ` @ ${e.at}` : ''}`;
    case 'MatrixSelector':
      return `${show(e.vs)}[${e.rangeMs}]`;
    case 'SubqueryExpr':
      return `(${show(e.expr)})[${e.rangeMs}:${e.stepMs ?? ''}]${e.offsetMs ? ` offset ${e.offsetMs}` : ''}`;
    case 'Call':
      return `${e.func}(${e.args.map(show).join(', ')})`;
    case 'AggregateExpr':
      return `${e.op}${e.without ? ' without' : ' by'}(${e.grouping.join(',')})(${e.param ? show(e.param) + ', ' : ''}${show(e.expr)})`;
    case 'BinaryExpr':
      return `(${show(e.lhs)} ${e.op}${e.returnBool ? ' bool' : ''}${e.matching && (e.matching.on || e.matching.matchingLabels.length) ? ` ${e.matching.on ? 'on' : 'ignoring'}(${e.matching.matchingLabels.join(',')})` : ''}${e.matching?.card === 'many-to-one' ? ` group_left(${e.matching.include.join(',')})` : ''} ${show(e.rhs)})`;
    case 'UnaryExpr':
      return `${e.op}${show(e.expr)}`;
    case 'ParenExpr':
      return show(e.expr);
  }
}

describe('parseExpr', () => {
  it.each([
    { input: '1 + 2 * 3', want: '(1 + (2 * 3))' },
    { input: '-1 ^ 2', want: '-(1 ^ 2)' },
    { input: '2 ^ 3 ^ 2', want: '(2 ^ (3 ^ 2))' },
    { input: 'a or b and c', want: '(__name__=a or (__name__=b and __name__=c))' },
    { input: 'foo{a="b", c=~"d.*"}', want: '__name__=foo,a=b,c=~d.*' },
    { input: '{"foo", a!="b"}', want: '__name__=foo,a!=b' },
    { input: 'rate(x[5m] offset 1m)', want: 'rate(__name__=x offset 60000[300000])' },
    { input: 'x @ 100 offset -1m', want: '__name__=x offset -60000 @ 100000' },
    { input: 'x offset 5m or y offset 10m', want: '(__name__=x offset 300000 or __name__=y offset 600000)' },
    { input: 'x[1h:5m] offset 1m', want: '(__name__=x)[3600000:300000] offset 60000' },
    { input: 'sum without (a) (x)', want: 'sum without(a)(__name__=x)' },
    { input: 'topk(3, x) by (b)', want: 'topk by(b)(3, __name__=x)' },
    { input: 'a * on(b) group_left(c) d', want: '(__name__=a * on(b) group_left(c) __name__=d)' },
    { input: 'a > bool 1', want: '(__name__=a > bool 1)' },
    { input: '0x1F + 1e3 + .5 + 2.', want: '(((31 + 1000) + 0.5) + 2)' },
    { input: "'a\\tb' ", want: '"a\\tb"' },
    { input: 'holt_winters(x[5m], 0.3, 0.1)', want: 'holt_winters(__name__=x[300000], 0.3, 0.1)' },
    { input: 'day_of_week()', want: 'day_of_week()' },
    { input: 'x # a comment', want: '__name__=x' },
  ])('$input', ({ input, want }) => {
    expect(show(parseExpr(input))).toBe(want);
  });

  it.each([
    { input: '', msg: '1:1: parse error: no expression found in input' },
    { input: 'sum(x', msg: '1:6: parse error: unexpected end of input' },
    { input: 'foo(bar)', msg: '1:1: parse error: unknown function with name "foo"' },
    { input: 'rate(x)', msg: '1:6: parse error: expected type range vector in call to function "rate", got instant vector' },
    { input: 'abs(x, y)', msg: '1:1: parse error: expected 1 argument(s) in call to "abs", got 2' },
    { input: 'round()', msg: 'expected at least 1 argument(s) in call to "round", got 0' },
    { input: '1 > 2', msg: 'comparisons between scalars must use BOOL modifier' },
    { input: 'x + bool y', msg: 'bool modifier can only be used on comparison operators' },
    { input: '1 and x', msg: 'set operator "and" not allowed in binary scalar expression' },
    { input: 'x and on(a) group_left y', msg: 'no grouping allowed for "and" operation' },
    { input: 'x * on(a) group_left(a) y', msg: 'label "a" must not occur in ON and GROUP clause at once' },
    { input: '{a=""}', msg: 'vector selector must contain at least one non-empty matcher' },
    { input: 'foo{__name__="bar"}', msg: 'metric name must not be set twice: "foo" or "bar"' },
    { input: 'sum(x)[5m]', msg: 'ranges only allowed for vector selectors' },
    { input: 'x[5m][1h:]', msg: 'subquery is only allowed on instant vector, got range vector' },
    { input: 'sum(x) offset 5m', msg: 'offset modifier must be preceded by an instant vector selector' },
    { input: 'x offset 1m offset 2m', msg: 'offset may not be set multiple times' },
    { input: 'topk(x)', msg: 'wrong number of arguments for aggregate expression provided, expected 2, got 1' },
    { input: 'x{a=~"("}', msg: 'invalid regular expression' },
    { input: 'x[5m] + 1', msg: 'binary expression must contain only scalar and instant vector types' },
    { input: 'sort_by_label(x, "a")', msg: 'is not supported: experimental function' },
  ])('$input → error', ({ input, msg }) => {
    let err: unknown;
    try {
      parseExpr(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    expect((err as ParseError).message).toContain(msg);
  });

  it('reports line and column of multi-line queries', () => {
    try {
      parseExpr('sum(\n  rate(x)\n)');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ParseError);
      expect((err as ParseError).line).toBe(2);
      expect((err as ParseError).column).toBe(8);
    }
  });

  it('parses series selectors for match[]', () => {
    expect(parseSeriesSelector('up{job="a"}')).toEqual([
      { type: '=', name: '__name__', value: 'up' },
      { type: '=', name: 'job', value: 'a' },
    ]);
    expect(() => parseSeriesSelector('sum(up)')).toThrow(ParseError);
  });
});

describe('re2ToJs', () => {
  it.each([
    { re: '(?i)abc', yes: ['ABC', 'aBc'], no: ['abd'] },
    { re: 'x(?i:ab)c', yes: ['xABc'], no: ['xABC'] },
    { re: '(?i)[a-c]+', yes: ['AbC'], no: ['d'] },
    { re: '(?P<first>a)b', yes: ['ab'], no: ['b'] },
    { re: '(?i)\\d+x', yes: ['12X'], no: ['D'] },
  ])('$re', ({ re, yes, no }) => {
    const r = new RegExp(`^(?:${re2ToJs(re)})$`);
    for (const y of yes) expect(r.test(y), y).toBe(true);
    for (const n of no) expect(r.test(n), n).toBe(false);
  });
});
