/**
 * A rule group: its rules evaluated in order at one timestamp, results written through
 * one appender, stale markers written for series a rule stopped producing (as
 * Prometheus's `rules/group.go`), alerts handed to the notifier.
 */
import type { Logger } from '../../shared/index.js';
import { STALE_NAN, labelsKey, labelsToObject } from '../../shared/index.js';
import type { Labels } from '../../shared/index.js';
import type { Appendable } from '../storage/interface.js';
import { AlertingRule, type AlertTransition } from './alerting-rule.js';
import type { RecordingRule } from './recording-rule.js';
import type { GroupSpec } from './rule-file.js';
import type { NotifyFunc, QueryFunc, VectorSample } from './types.js';
import type { AlertHistory } from './history.js';
import type { RuleMetrics } from './metrics.js';

export type Rule = AlertingRule | RecordingRule;

export interface GroupDeps {
  readonly query: QueryFunc;
  readonly appendable: Appendable;
  readonly notify?: NotifyFunc;
  readonly history?: AlertHistory;
  readonly logger: Logger;
  readonly metrics: RuleMetrics;
  readonly resendDelayMs: number;
  readonly forGracePeriodMs: number;
  readonly outageToleranceMs: number;
  readonly externalURL: string;
  /** Called with the transitions of each evaluation (tests, UI). */
  readonly onTransitions?: (t: readonly AlertTransition[]) => void;
}

export class Group {
  readonly name: string;
  readonly file: string;
  readonly intervalMs: number;
  readonly limit: number;
  readonly queryOffsetMs: number;
  readonly rules: Rule[];
  lastEvaluation = 0;
  evaluationMs = 0;
  /** The next evaluation time (ms), aligned to the interval. */
  nextEvalAt = 0;
  private seriesInPrevious: Array<Map<string, Labels>>;
  private firstEval = true;
  private running: Promise<void> | undefined;

  constructor(
    readonly spec: GroupSpec,
    intervalMs: number,
    rules: Rule[],
    private readonly deps: GroupDeps,
  ) {
    this.name = spec.name;
    this.file = spec.file;
    this.intervalMs = intervalMs;
    this.limit = spec.limit;
    this.queryOffsetMs = spec.queryOffsetMs;
    this.rules = rules;
    this.seriesInPrevious = rules.map(() => new Map());
  }

  /** Key that identifies the group across reloads. */
  get key(): string {
    return `${this.file};${this.name}`;
  }

  /** Takes over alert states and stale-series tracking of an equal earlier group. */
  copyStateFrom(old: Group): void {
    const byKey = new Map<string, number>();
    old.rules.forEach((r, i) => byKey.set(ruleIdentity(r), i));
    this.rules.forEach((r, i) => {
      const j = byKey.get(ruleIdentity(r));
      if (j === undefined) return;
      const o = old.rules[j];
      if (r instanceof AlertingRule && o instanceof AlertingRule) r.adoptState(o);
      this.seriesInPrevious[i] = old.seriesInPrevious[j];
    });
    this.firstEval = old.firstEval;
    this.nextEvalAt = old.nextEvalAt;
    this.lastEvaluation = old.lastEvaluation;
  }

  /** Evaluates every rule at `t` (ms); never throws (errors land on the rules). Calls do not overlap. */
  async eval(t: number): Promise<void> {
    while (this.running) await this.running;
    this.running = this.doEval(t);
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private async doEval(t: number): Promise<void> {
    const start = performance.now();
    const qt = t - this.queryOffsetMs;
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i];
      const rs = performance.now();
      let out: VectorSample[] = [];
      try {
        const vector = await this.deps.query(rule.expr, qt);
        if (rule instanceof AlertingRule) {
          const res = await rule.eval(vector, t, this.limit);
          out = res.samples;
          if (this.firstEval && rule.forMs > 0) await this.restore(rule, t);
          if (this.firstEval && this.deps.history) {
            const h = this.deps.history;
            h.closeVanished(rule.name, new Set(rule.alerts().map((a) => h.fingerprintOf(a))), t);
          }
          this.deps.history?.record(rule.name, res.transitions, rule.alerts(), t);
          if (res.transitions.length) this.deps.onTransitions?.(res.transitions);
          if (this.deps.notify) {
            const due = rule.alertsToSend(t, this.deps.resendDelayMs, this.intervalMs, this.generatorURL(rule.expr));
            if (due.length) this.deps.notify(due, this.key);
          }
        } else {
          out = rule.eval(vector, t, this.limit);
        }
        rule.health = 'ok';
        rule.lastError = '';
      } catch (err) {
        rule.health = 'err';
        rule.lastError = (err as Error).message;
        this.deps.metrics.evalFailures.inc({ rule_group: this.key });
        this.deps.logger.warn({ err, group: this.name, rule: rule.name }, 'Evaluating rule failed');
      }
      rule.lastEvaluation = t;
      rule.evaluationMs = performance.now() - rs;
      const now = new Map<string, Labels>();
      for (const s of out) now.set(keyOf(s.labels), s.labels);
      const stale: Labels[] = [];
      for (const [k, ls] of this.seriesInPrevious[i]) if (!now.has(k)) stale.push(ls);
      this.seriesInPrevious[i] = now;
      // Committed per rule, as Prometheus does, so later rules of the group see the results.
      this.write(out, stale, t);
    }
    this.firstEval = false;
    this.lastEvaluation = t;
    this.evaluationMs = performance.now() - start;
    this.deps.metrics.evalDuration.observe({ rule_group: this.key }, this.evaluationMs / 1000);
    this.deps.metrics.evalTotal.inc({ rule_group: this.key });
    this.deps.metrics.lastEval.set({ rule_group: this.key }, t / 1000);
  }

  private write(samples: readonly VectorSample[], stale: readonly Labels[], t: number): void {
    if (!samples.length && !stale.length) return;
    const app = this.deps.appendable.appender();
    let failed = 0;
    for (const s of samples) {
      try {
        app.append(s.labels, s.t, s.v);
      } catch {
        failed++;
      }
    }
    for (const ls of stale) {
      try {
        app.append(ls, t, STALE_NAN);
      } catch {
        failed++;
      }
    }
    try {
      app.commit();
    } catch (err) {
      this.deps.logger.error({ err, group: this.name }, 'Writing rule results failed');
      app.rollback();
    }
    if (failed) this.deps.logger.warn({ group: this.name, failed }, 'Rule results refused by the store');
  }

  /**
   * Restores `for` state after a restart: from the alert history when there is one
   * (Prometheus's rule: the downtime does not count towards `for`), otherwise from the
   * stored ALERTS_FOR_STATE series, where the downtime counts (finding it needs sample
   * timestamps a QueryFunc does not give).
   */
  private async restore(rule: AlertingRule, t: number): Promise<void> {
    const h = this.deps.history;
    let lookup: (a: Parameters<Parameters<AlertingRule['restoreForState']>[0]>[0]) => { activeAt: number; downAt: number } | undefined;
    if (h) {
      const open = h.openEpisodes(rule.name);
      if (!open.size) return;
      lookup = (a) => open.get(h.fingerprintOf(a));
    } else {
      const sel = `ALERTS_FOR_STATE{alertname=${JSON.stringify(rule.name)}}`;
      const win = Math.max(1, Math.round(this.deps.outageToleranceMs / 1000));
      let vec;
      try {
        vec = await this.deps.query(`last_over_time(${sel}[${win}s])`, t - this.intervalMs);
      } catch (err) {
        this.deps.logger.warn({ err, rule: rule.name }, 'Restoring for state failed');
        return;
      }
      const saved = new Map<string, number>();
      for (const s of vec) {
        const o = labelsToObject(s.labels);
        delete o.__name__;
        saved.set(objKey(o), s.v * 1000);
      }
      lookup = (a) => {
        const at = saved.get(objKey(labelsToObject(a.labels)));
        // Without sample timestamps the downtime is unknown; it counts towards `for`.
        return at === undefined ? undefined : { activeAt: at, downAt: t };
      };
    }
    const n = rule.restoreForState(lookup, t, this.deps.forGracePeriodMs);
    if (n && h) h.updateActiveAt(rule.alerts());
    if (n) this.deps.logger.info({ rule: rule.name, restored: n }, 'Restored for state of alerts');
  }

  private generatorURL(expr: string): string {
    return `${this.deps.externalURL.replace(/\/$/, '')}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=1`;
  }
}

/**
 * `labelsKey`, remembered per label array: alerting rules hand out the same ALERTS arrays
 * round after round, so tens of thousands of long keys are not rebuilt every round.
 */
const keys = new WeakMap<Labels, string>();
function keyOf(ls: Labels): string {
  let k = keys.get(ls);
  if (k === undefined) {
    k = labelsKey(ls);
    keys.set(ls, k);
  }
  return k;
}

function objKey(o: Record<string, string>): string {
  return Object.keys(o)
    .sort()
    .map((k) => `${k}\xff${o[k]}`)
    .join('\xfe');
}

function ruleIdentity(r: Rule): string {
  return JSON.stringify([r.kind, r.name, r.expr, r.labels, r.kind === 'alert' ? [r.annotations, r.forMs, r.keepFiringForMs] : 0]);
}
