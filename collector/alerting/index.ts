/**
 * Alerting as one component for `main.ts`: the rule manager, the notifier and the alert
 * history, wired to each other (rules → notifier → history), configured from the
 * collector config's alerting keys, reloadable as a whole, with its HTTP plugins.
 */
import type { Registry } from 'prom-client';
import type { Logger, Service } from '../../shared/index.js';
import { noopLogger, parseDuration } from '../../shared/index.js';
import type { Appendable } from '../storage/interface.js';
import { silencesApiPlugin } from '../notifier/api.js';
import { buildAlertingConfig } from '../notifier/config.js';
import { Notifier } from '../notifier/notifier.js';
import { rulesApiPlugin } from '../rules/api.js';
import { defaultRuleGroups } from '../rules/default-rules/index.js';
import { AlertHistory } from '../rules/history.js';
import { lezerExprValidator } from '../rules/lezer-validator.js';
import { RuleManager } from '../rules/manager.js';
import type { ExprValidator, QueryFunc } from '../rules/types.js';
import type { AlertingSectionConfig } from './config-schema.js';

export * from './config-schema.js';

export interface AlertingOptions {
  readonly config: AlertingSectionConfig;
  /** Relative `rule_files` resolve here: the config file's directory. */
  readonly configDir?: string;
  readonly query: QueryFunc;
  /** The PromQL parser as a validator; a syntax-only check when absent. */
  readonly validate?: ExprValidator;
  /** Where recording rules, ALERTS and ALERTS_FOR_STATE are written. */
  readonly appendable: Appendable;
  /** SQLite file for history, outbox, notification log and silences (not a TSDB file); ':memory:' in tests. */
  readonly dbPath: string;
  readonly logger?: Logger;
  readonly registry?: Registry;
  readonly now?: () => number;
}

export class Alerting implements Service {
  readonly rules: RuleManager;
  readonly notifier: Notifier;
  readonly history: AlertHistory;
  private config: AlertingSectionConfig;
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(private readonly opts: AlertingOptions) {
    this.log = (opts.logger ?? noopLogger()).child({ component: 'alerting' });
    this.now = opts.now ?? Date.now;
    this.config = opts.config;
    const cfg = opts.config;
    const built = buildAlertingConfig(cfg.alerting);
    this.history = new AlertHistory({ db: opts.dbPath, externalLabels: cfg.external_labels });
    this.notifier = new Notifier({
      config: built,
      db: opts.dbPath,
      logger: opts.logger,
      registry: opts.registry,
      now: opts.now,
      maxAgeMs: parseDuration(cfg.alerting.outbox_max_age ?? '24h'),
      onDelivery: (r) => {
        for (const fp of r.fingerprints) this.history.recordNotification(fp, r);
      },
    });
    this.rules = new RuleManager({
      query: opts.query,
      appendable: opts.appendable,
      notify: this.notifier.send,
      validate: opts.validate ?? lezerExprValidator,
      history: this.history,
      externalURL: built.externalURL,
      logger: opts.logger,
      registry: opts.registry,
      now: opts.now,
      resendDelayMs: parseDuration(cfg.alerting.resend_delay ?? '1m'),
    });
    this.applyRules(cfg);
  }

  private applyRules(cfg: AlertingSectionConfig): void {
    this.rules.applyConfig({
      evaluationIntervalMs: parseDuration(cfg.evaluation_interval),
      ruleFiles: cfg.rule_files,
      baseDir: this.opts.configDir,
      externalLabels: cfg.external_labels,
      extraGroups: defaultRuleGroups(cfg.default_rules, this.opts.validate ?? lezerExprValidator),
    });
  }

  /**
   * Applies a new config: receivers/routes and rules together. Throws (`ConfigError` or
   * `RuleLoadError`, listing every problem) and keeps everything as it was when any part
   * is bad. External labels and the external URL take effect for rules on the next start.
   */
  applyConfig(cfg: AlertingSectionConfig): void {
    const built = buildAlertingConfig(cfg.alerting);
    this.applyRules(cfg);
    this.notifier.applyConfig(built);
    this.config = cfg;
  }

  /** Re-reads rule files (SIGHUP, `POST /-/reload` when the lead wires only this). */
  reload(): void {
    this.applyRules(this.config);
  }

  /** HTTP plugins: `/api/v1/rules`, `/api/v1/alerts`, `/api/v1/alerts/history`, silences. */
  plugins(reload?: () => Promise<void> | void): Array<{ plugin: typeof rulesApiPlugin | typeof silencesApiPlugin; opts: object }> {
    return [
      { plugin: rulesApiPlugin, opts: { manager: this.rules, history: this.history, reload } },
      { plugin: silencesApiPlugin, opts: { notifier: this.notifier, now: this.opts.now } },
    ];
  }

  async start(): Promise<void> {
    await this.notifier.start();
    await this.rules.start();
    const prune = () => {
      try {
        const n = this.history.prune(this.now() - parseDuration(this.config.alerting.history_retention ?? '30d'));
        if (n) this.log.info({ episodes: n }, 'Pruned alert history');
        this.notifier.store.gcNflog(this.now() - 5 * 24 * 3_600_000);
        this.notifier.silences.gc(this.now() - 5 * 24 * 3_600_000);
      } catch (err) {
        this.log.error({ err }, 'Pruning alert history failed');
      }
    };
    prune();
    this.pruneTimer = setInterval(prune, 3_600_000);
    this.pruneTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await this.rules.stop();
    await this.notifier.close();
    this.history.close();
  }
}
