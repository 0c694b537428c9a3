/**
 * The small interfaces the rules engine talks through, as in Prometheus's `rules`
 * package: it reads only through a {@link QueryFunc}, checks expressions only through an
 * {@link ExprValidator}, writes through `Appendable`, and hands alerts to a
 * {@link NotifyFunc}. `main.ts` wires the concrete PromQL engine and notifier.
 */
import type { Labels } from '../../shared/index.js';
import type { Alert } from '../notifier/alert.js';

/** One sample of an instant vector; `t` in ms. */
export interface VectorSample {
  readonly labels: Labels;
  readonly t: number;
  readonly v: number;
}

/** An instant vector; a scalar result is one sample with empty labels. */
export type Vector = readonly VectorSample[];

/**
 * Evaluates `expr` at time `t` (ms) as an instant query. Rejects on parse or evaluation
 * errors; honours `signal` when given.
 */
export type QueryFunc = (expr: string, t: number, signal?: AbortSignal) => Promise<Vector>;

/**
 * Checks an expression at load time; throws an error whose message names the position
 * and the problem (e.g. `1:7: parse error: unexpected end of input`).
 */
export type ExprValidator = (expr: string) => void;

/** Receives the alerts due for sending after each evaluation of a group. */
export type NotifyFunc = (alerts: readonly Alert[], groupKey: string) => void;
