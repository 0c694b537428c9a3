/**
 * The rule manager: loads rule files, keeps one {@link Group} per file and group name,
 * evaluates each at its interval on an injectable clock, and reloads atomically: a new
 * rule set replaces the old only when every file loads; otherwise the old keeps running.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger, Service } from '../../shared/index.js';
import { noopLogger } from '../../shared/index.js';
import type { Appendable } from '../storage/interface.js';
import { AlertingRule, type AlertTransition } from './alerting-rule.js';
import { Group, type Rule } from './group.js';
import type { AlertHistory } from './history.js';
import { lezerExprValidator } from './lezer-validator.js';
import { createRuleMetrics, type RuleMetrics } from './metrics.js';
import { RecordingRule } from './recording-rule.js';
import { expandRulePaths, loadRuleFiles, type GroupSpec } from './rule-file.js';
import type { ExprValidator, NotifyFunc, QueryFunc } from './types.js';

export interface RulesConfig {
  /** Default group interval (ms). */
  readonly evaluationIntervalMs: number;
  /** Paths, directories or globs of rule files. */
  readonly ruleFiles: readonly string[];
  /** Relative `ruleFiles` resolve here (the config file's directory). */
  readonly baseDir?: string;
  readonly externalLabels?: Readonly<Record<string, string>>;
  /** Groups that come from elsewhere than files (the default rule pack). */
  readonly extraGroups?: readonly GroupSpec[];
}

export interface RuleManagerOptions {
  readonly query: QueryFunc;
  readonly appendable: Appendable;
  readonly notify?: NotifyFunc;
  /** Load-time expression check; the engine's parser when wired, else a syntax check. */
  readonly validate?: ExprValidator;
  readonly history?: AlertHistory;
  /** Base of `generatorURL`s and `$externalURL`. */
  readonly externalURL?: string;
  readonly logger?: Logger;
  readonly registry?: Registry;
  /** Clock (ms); Date.now by default. */
  readonly now?: () => number;
  /** Minimum time between re-sends of a firing alert (Prometheus `--rules.alert.resend-delay`, 1m). */
  readonly resendDelayMs?: number;
  /** `for` grace period after a restore (Prometheus `--rules.alert.for-grace-period`, 10m). */
  readonly forGracePeriodMs?: number;
  /** How far back ALERTS_FOR_STATE is looked at on restore (`--rules.alert.for-outage-tolerance`, 1h). */
  readonly outageToleranceMs?: number;
  readonly onTransitions?: (t: readonly AlertTransition[]) => void;
}

export class RuleManager implements Service {
  private groupsByKey = new Map<string, Group>();
  private config: RulesConfig | undefined;
  private readonly log: Logger;
  private readonly metrics: RuleMetrics;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private watchers: FSWatcher[] = [];
  private reloadTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private ticking: Promise<void> | undefined;
  /** Time of the last successful reload (ms), and its error when the last one failed. */
  lastReload = { t: 0, ok: true, error: '' };

  constructor(private readonly opts: RuleManagerOptions) {
    this.log = (opts.logger ?? noopLogger()).child({ component: 'rules' });
    this.metrics = createRuleMetrics(opts.registry);
    this.now = opts.now ?? Date.now;
  }

  /**
   * Loads the rule files of `cfg` and swaps the running set. Throws a `RuleLoadError`
   * listing every problem when any file is bad; then the previous rules keep running.
   */
  applyConfig(cfg: RulesConfig): void {
    let specs: GroupSpec[];
    try {
      specs = [...(cfg.extraGroups ?? []), ...loadRuleFiles(cfg.ruleFiles, this.opts.validate ?? lezerExprValidator, cfg.baseDir)];
    } catch (err) {
      this.metrics.reloads.inc({ result: 'failure' });
      this.metrics.reloadSuccess.set(0);
      this.lastReload = { t: this.now(), ok: false, error: (err as Error).message };
      this.log.error({ err }, 'Loading rule files failed; keeping the previous rules');
      throw err;
    }
    const next = new Map<string, Group>();
    let count = 0;
    const ext = cfg.externalLabels ?? {};
    for (const spec of specs) {
      const intervalMs = spec.intervalMs ?? cfg.evaluationIntervalMs;
      const rules: Rule[] = spec.rules.map((r) =>
        r.kind === 'alert'
          ? new AlertingRule(r, {
              externalLabels: ext,
              externalURL: this.opts.externalURL ?? '',
              groupLabels: spec.labels,
              query: this.opts.query,
            })
          : new RecordingRule(r, spec.labels),
      );
      count += rules.length;
      const g = new Group(spec, intervalMs, rules, {
        query: this.opts.query,
        appendable: this.opts.appendable,
        notify: this.opts.notify,
        history: this.opts.history,
        logger: this.log,
        metrics: this.metrics,
        resendDelayMs: this.opts.resendDelayMs ?? 60_000,
        forGracePeriodMs: this.opts.forGracePeriodMs ?? 600_000,
        outageToleranceMs: this.opts.outageToleranceMs ?? 3_600_000,
        externalURL: this.opts.externalURL ?? '',
        onTransitions: this.opts.onTransitions,
      });
      const old = this.groupsByKey.get(g.key);
      if (old && old.intervalMs === g.intervalMs) g.copyStateFrom(old);
      else g.nextEvalAt = alignedNext(this.now(), intervalMs);
      next.set(g.key, g);
    }
    this.groupsByKey = next;
    this.config = cfg;
    this.metrics.reloads.inc({ result: 'success' });
    this.metrics.reloadSuccess.set(1);
    this.metrics.rules.set(count);
    this.lastReload = { t: this.now(), ok: true, error: '' };
    this.log.info({ groups: next.size, rules: count }, 'Rules loaded');
    if (!this.stopped) this.rewatch();
  }

  /** Re-reads the current config's files (SIGHUP, `POST /-/reload`, file change). */
  reload(): void {
    if (!this.config) throw new Error('no rule configuration applied yet');
    this.applyConfig(this.config);
  }

  /** Groups in load order. */
  groups(): Group[] {
    return [...this.groupsByKey.values()];
  }

  /** Every alerting rule's alerts. */
  alertingRules(): AlertingRule[] {
    return this.groups().flatMap((g) => g.rules.filter((r): r is AlertingRule => r instanceof AlertingRule));
  }

  /**
   * Evaluates every group due at `now` (ms), each at its own aligned slot; a group that
   * missed slots evaluates once, at the latest one (Prometheus skips missed iterations).
   */
  async evaluateDue(now: number = this.now()): Promise<void> {
    const due: Array<Promise<void>> = [];
    for (const g of this.groupsByKey.values()) {
      if (g.nextEvalAt === 0) g.nextEvalAt = alignedNext(now, g.intervalMs);
      if (g.nextEvalAt > now) continue;
      const missed = Math.floor((now - g.nextEvalAt) / g.intervalMs);
      const slot = g.nextEvalAt + missed * g.intervalMs;
      g.nextEvalAt = slot + g.intervalMs;
      due.push(g.eval(slot));
    }
    await Promise.all(due);
  }

  /** Earliest next evaluation time of any group (ms), or undefined without groups. */
  nextDue(): number | undefined {
    let min: number | undefined;
    for (const g of this.groupsByKey.values()) if (min === undefined || g.nextEvalAt < min) min = g.nextEvalAt;
    return min;
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.rewatch();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const next = this.nextDue();
    const delay = next === undefined ? 1000 : Math.max(0, Math.min(next - this.now(), 60_000));
    this.timer = setTimeout(() => {
      this.ticking = this.evaluateDue()
        .catch((err: unknown) => this.log.error({ err }, 'Rule evaluation loop failed'))
        .finally(() => {
          this.ticking = undefined;
          this.schedule();
        });
    }, delay);
    this.timer.unref();
  }

  private rewatch(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (!this.config || this.stopped) return;
    const dirs = new Set<string>();
    for (const f of expandRulePaths(this.config.ruleFiles, this.config.baseDir)) dirs.add(dirname(f));
    for (const p of this.config.ruleFiles) if (!/[*?[]/.test(p)) dirs.add(p);
    for (const d of dirs) {
      try {
        const w = watch(d, { persistent: false }, () => this.scheduleReload());
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch {
        // A directory that does not exist (yet) is not watched.
      }
    }
  }

  private scheduleReload(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    // Editors write files in several steps; wait for them to settle.
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      try {
        this.reload();
      } catch {
        // Logged and counted by applyConfig.
      }
    }, 500);
    this.reloadTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
    await this.ticking;
  }
}

/** The first multiple of `intervalMs` strictly after `now`. */
function alignedNext(now: number, intervalMs: number): number {
  return (Math.floor(now / intervalMs) + 1) * intervalMs;
}
