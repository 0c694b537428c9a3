/**
 * A syntax-only {@link ExprValidator} on the Prometheus project's own Lezer grammar
 * (`@prometheus-io/lezer-promql`). It catches what makes an expression unparseable; the
 * PromQL engine's parser, when wired in, also catches type errors. Used by tests and as
 * the fallback when no engine validator is given.
 */
import { parser } from '@prometheus-io/lezer-promql';
import type { ExprValidator } from './types.js';

function lineCol(expr: string, pos: number): string {
  const before = expr.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return `${line}:${col}`;
}

/** Throws `line:col: parse error: …` for the first syntax error in `expr`. */
export const lezerExprValidator: ExprValidator = (expr) => {
  const tree = parser.parse(expr);
  let errAt = -1;
  tree.iterate({
    enter: (n) => {
      if (errAt >= 0) return false;
      if (n.type.isError) errAt = n.from;
      return undefined;
    },
  });
  if (errAt < 0) return;
  const rest = expr.slice(errAt).trim();
  const what = rest ? `unexpected ${JSON.stringify(rest.split(/\s+/)[0])}` : 'unexpected end of input';
  throw new Error(`${lineCol(expr, errAt)}: parse error: ${what}`);
};
