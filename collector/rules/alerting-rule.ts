/**
 * An alerting rule and its alerts' states, as Prometheus's `rules/alerting.go`:
 * inactive → pending (expression returned the series) → firing (after `for`) → resolved
 * (series gone, after `keep_firing_for`); resolved alerts are kept 15 minutes so that
 * notifiers hear about the resolution.
 */
import type { Labels } from '../../shared/index.js';
import { METRIC_NAME, labelsFromObject, labelsKey, labelsToObject, labelsToString } from '../../shared/index.js';
import type { Alert } from '../notifier/alert.js';
import type { RuleSpec } from './rule-file.js';
import { Template, type TemplateSample } from './template.js';
import type { QueryFunc, VectorSample } from './types.js';

export const AlertState = {
  INACTIVE: 'inactive',
  PENDING: 'pending',
  FIRING: 'firing',
} as const;
export type AlertState = (typeof AlertState)[keyof typeof AlertState];

/** How long a resolved alert stays in memory (and is re-sent as resolved). */
export const RESOLVED_RETENTION_MS = 15 * 60_000;

/** One active alert of a rule. Times in ms; 0 means not set. */
export interface ActiveAlert {
  state: AlertState;
  labels: Labels;
  annotations: Record<string, string>;
  value: number;
  activeAt: number;
  firedAt: number;
  resolvedAt: number;
  /** -Infinity until first sent. */
  lastSentAt: number;
  validUntil: number;
  keepFiringSince: number;
  /** Extremes of the episode, for the history. */
  firstValue: number;
  peakValue: number;
}

interface Expansion {
  /** The input labels without the metric name, as templates see them (never mutated). */
  readonly metric: Record<string, string>;
  readonly labels: Labels;
  readonly key: string;
  readonly value: number;
  readonly annotations: Record<string, string>;
}

interface SeriesLabels {
  labels: Labels;
  state: AlertState;
  alerts: Labels;
  forState: Labels;
}

/** What changed in one evaluation, for the alert history. */
export interface AlertTransition {
  readonly rule: string;
  readonly alert: ActiveAlert;
  readonly from: AlertState;
  readonly to: AlertState;
  readonly t: number;
}

export interface AlertingRuleOptions {
  readonly externalLabels: Readonly<Record<string, string>>;
  readonly externalURL: string;
  /** Labels of the group, applied under the rule's own. */
  readonly groupLabels?: Readonly<Record<string, string>>;
  readonly query?: QueryFunc;
}

export interface EvalResult {
  /** ALERTS and ALERTS_FOR_STATE samples to write. */
  readonly samples: VectorSample[];
  readonly transitions: AlertTransition[];
}

export class AlertingRule {
  readonly kind = 'alert' as const;
  readonly name: string;
  readonly expr: string;
  readonly forMs: number;
  readonly keepFiringForMs: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly spec: RuleSpec;
  private readonly labelTmpl: Array<[string, Template]>;
  private readonly annTmpl: Array<[string, Template]>;
  private active = new Map<string, ActiveAlert>();
  /** True when no template calls `query`: expansions depend only on labels and value. */
  private readonly pure: boolean;
  /** True when every label template is constant text: alert labels depend only on the input labels. */
  private readonly constantLabels: boolean;
  /** Last expansion per input label set (by identity; see {@link AlertingRule.expand}). */
  private expansions = new WeakMap<Labels, Expansion>();
  private seriesOf = new WeakMap<ActiveAlert, SeriesLabels>();
  health: 'ok' | 'err' | 'unknown' = 'unknown';
  lastError = '';
  lastEvaluation = 0;
  evaluationMs = 0;
  /** Set after the `for` state was restored (or restoring was not needed). */
  restored = false;

  constructor(
    spec: RuleSpec,
    private readonly opts: AlertingRuleOptions,
  ) {
    this.spec = spec;
    this.name = spec.name;
    this.expr = spec.expr;
    this.forMs = spec.forMs;
    this.keepFiringForMs = spec.keepFiringForMs;
    this.labels = { ...(opts.groupLabels ?? {}), ...spec.labels };
    this.annotations = spec.annotations;
    const tn = `__alert_${spec.name}`;
    this.labelTmpl = Object.entries(this.labels).map(([k, v]) => [k, Template.parse(tn, v)]);
    this.annTmpl = Object.entries(spec.annotations).map(([k, v]) => [k, Template.parse(tn, v)]);
    this.constantLabels = this.labelTmpl.every(([, tm]) => tm.constant !== undefined);
    this.pure = ![...this.labelTmpl, ...this.annTmpl].some(([, tm]) => tm.usesQuery);
  }

  /** Takes over the alerts of the same rule from before a reload. */
  adoptState(old: AlertingRule): void {
    this.active = old.active;
    this.restored = old.restored;
    this.health = old.health;
    this.lastError = old.lastError;
    this.lastEvaluation = old.lastEvaluation;
  }

  /** Current alerts (pending, firing, and resolved within the retention). */
  alerts(): ActiveAlert[] {
    return [...this.active.values()];
  }

  /** The state of the rule: the highest state of its alerts. */
  state(): AlertState {
    let s: AlertState = AlertState.INACTIVE;
    for (const a of this.active.values()) {
      if (a.state === AlertState.FIRING) return AlertState.FIRING;
      if (a.state === AlertState.PENDING) s = AlertState.PENDING;
    }
    return s;
  }

  /**
   * Applies one evaluation's result `vector` at time `t` (ms). `limit` > 0 fails the
   * evaluation (and drops every alert, as Prometheus does) when more alerts would be active.
   */
  async eval(vector: readonly VectorSample[], t: number, limit = 0): Promise<EvalResult> {
    const seen = new Map<string, { labels: Labels; annotations: Record<string, string>; value: number }>();
    for (const s of vector) {
      const r = await this.expand(s, t);
      if (seen.has(r.key)) {
        throw new Error(`vector contains metrics with the same labelset after applying alert labels: ${labelsToString(r.labels)}`);
      }
      seen.set(r.key, { labels: r.labels, annotations: r.annotations, value: s.v });
    }

    const transitions: AlertTransition[] = [];
    const move = (a: ActiveAlert, to: AlertState) => {
      if (a.state !== to) transitions.push({ rule: this.name, alert: a, from: a.state, to, t });
      a.state = to;
    };

    for (const [key, r] of seen) {
      const a = this.active.get(key);
      if (a && a.state !== AlertState.INACTIVE) {
        a.value = r.value;
        a.annotations = r.annotations;
        a.keepFiringSince = 0;
        if (r.value > a.peakValue || Number.isNaN(a.peakValue)) a.peakValue = r.value;
        continue;
      }
      const fresh: ActiveAlert = {
        state: AlertState.INACTIVE,
        labels: r.labels,
        annotations: r.annotations,
        value: r.value,
        activeAt: t,
        firedAt: 0,
        resolvedAt: 0,
        lastSentAt: -Infinity,
        validUntil: 0,
        keepFiringSince: 0,
        firstValue: r.value,
        peakValue: r.value,
      };
      this.active.set(key, fresh);
      move(fresh, AlertState.PENDING);
    }

    for (const [key, a] of this.active) {
      if (!seen.has(key)) {
        if (a.state === AlertState.PENDING || (a.resolvedAt !== 0 && t - a.resolvedAt > RESOLVED_RETENTION_MS)) {
          if (a.state === AlertState.PENDING) move(a, AlertState.INACTIVE);
          this.active.delete(key);
          continue;
        }
        if (a.state !== AlertState.INACTIVE) {
          if (this.keepFiringForMs > 0) {
            if (a.keepFiringSince === 0) a.keepFiringSince = t;
            if (t - a.keepFiringSince < this.keepFiringForMs) continue;
          }
          a.resolvedAt = t;
          move(a, AlertState.INACTIVE);
        }
        continue;
      }
      if (a.state === AlertState.PENDING && t - a.activeAt >= this.forMs) {
        a.firedAt = t;
        move(a, AlertState.FIRING);
      }
    }

    if (limit > 0 && this.countActive() > limit) {
      this.active.clear();
      throw new Error(`exceeded limit of ${limit} with ${seen.size} alerts`);
    }

    const samples: VectorSample[] = [];
    for (const a of this.active.values()) {
      if (a.state === AlertState.INACTIVE) continue;
      const ls = this.alertSeries(a);
      samples.push({ labels: ls.alerts, t, v: 1 });
      // Prometheus stores whole seconds (`ActiveAt.Unix()`).
      samples.push({ labels: ls.forState, t, v: Math.floor(a.activeAt / 1000) });
    }
    return { samples, transitions };
  }

  /**
   * The alert labels and annotations of one result sample. Templates are pure functions
   * of the sample's labels and value (external labels and URL are fixed per rule) unless
   * they call `query`, so the result is reused while the sample's label set (the very
   * same array: the engine hands out one per series) and value stay the same; label sets
   * alone decide the labels when every label template is constant text. This is what
   * keeps a round with tens of thousands of active alerts from re-expanding and
   * re-keying every one of them each time.
   */
  private async expand(s: VectorSample, t: number): Promise<Expansion> {
    const hit = this.pure ? this.expansions.get(s.labels) : undefined;
    if (hit && (Object.is(hit.value, s.v) || (this.constantLabels && this.annTmpl.length === 0))) return hit;
    const metric = hit ? hit.metric : labelsToObject(s.labels);
    if (!hit) delete metric[METRIC_NAME];
    const data = {
      Labels: metric,
      ExternalLabels: { ...this.opts.externalLabels },
      ExternalURL: this.opts.externalURL,
      Value: s.v,
    };
    const execOpts = this.opts.query ? { query: this.templateQuery(t) } : {};
    let labels: Labels;
    let key: string;
    if (hit && this.constantLabels) {
      labels = hit.labels;
      key = hit.key;
    } else {
      const out: Record<string, string> = { ...metric };
      for (const [k, tmpl] of this.labelTmpl) out[k] = tmpl.constant ?? (await expandOrError(tmpl, data, execOpts));
      out.alertname = this.name;
      labels = labelsFromObject(out);
      key = labelsKey(labels);
    }
    const annotations: Record<string, string> = {};
    for (const [k, tmpl] of this.annTmpl) annotations[k] = tmpl.constant ?? (await expandOrError(tmpl, data, execOpts));
    const e: Expansion = { metric, labels, key, value: s.v, annotations };
    if (this.pure) this.expansions.set(s.labels, e);
    return e;
  }

  /** The labels of this alert's ALERTS (in its current state) and ALERTS_FOR_STATE series, built once per state. */
  private alertSeries(a: ActiveAlert): SeriesLabels {
    let c = this.seriesOf.get(a);
    if (!c || c.labels !== a.labels) {
      c = { labels: a.labels, state: a.state, alerts: this.seriesLabels('ALERTS', a, a.state), forState: this.seriesLabels('ALERTS_FOR_STATE', a) };
      this.seriesOf.set(a, c);
    } else if (c.state !== a.state) {
      c.state = a.state;
      c.alerts = this.seriesLabels('ALERTS', a, a.state);
    }
    return c;
  }

  private countActive(): number {
    let n = 0;
    for (const a of this.active.values()) if (a.state !== AlertState.INACTIVE) n++;
    return n;
  }

  private templateQuery(t: number): (expr: string) => Promise<TemplateSample[]> {
    const q = this.opts.query!;
    return async (expr) =>
      (await q(expr, t)).map((s) => ({ Labels: labelsToObject(s.labels), Value: s.v }));
  }

  private seriesLabels(metric: string, a: ActiveAlert, state?: AlertState): Labels {
    const o = labelsToObject(a.labels);
    o[METRIC_NAME] = metric;
    if (state) o.alertstate = state;
    return labelsFromObject(o);
  }

  /**
   * Restores `activeAt` of pending/firing alerts after a restart, Prometheus's rule:
   * `lookup` gives an alert's saved activeAt and the last time the collector saw it
   * (`downAt`), or undefined. The downtime does not count towards `for`, but an alert
   * already past `for` before the restart fires at once, and one close to it waits at
   * least `forGracePeriodMs`.
   */
  restoreForState(
    lookup: (a: ActiveAlert) => { activeAt: number; downAt: number } | undefined,
    t: number,
    forGracePeriodMs: number,
  ): number {
    let n = 0;
    for (const a of this.active.values()) {
      const r = lookup(a);
      if (!r || a.state !== AlertState.PENDING) continue;
      let activeAt = r.activeAt;
      const spent = r.downAt - r.activeAt;
      const remaining = this.forMs - spent;
      if (remaining <= 0) {
        // Was firing before the restart: keep its original activeAt.
      } else if (remaining < forGracePeriodMs) {
        activeAt = t + forGracePeriodMs - this.forMs;
      } else {
        activeAt = r.activeAt + (t - r.downAt);
      }
      a.activeAt = activeAt;
      n++;
    }
    this.restored = true;
    return n;
  }

  /**
   * Alerts due for sending at `t`: firing ones every `resendDelayMs`, resolved ones once
   * (re-sent while retained). `endsAt` of a firing alert is `t + 4·max(resend, interval)`,
   * as Prometheus sets it so that Alertmanager does not resolve it between sends.
   */
  alertsToSend(t: number, resendDelayMs: number, intervalMs: number, generatorURL: string): Alert[] {
    const out: Alert[] = [];
    const delta = Math.max(resendDelayMs, intervalMs);
    for (const a of this.active.values()) {
      if (a.state === AlertState.PENDING) continue;
      const needs = (a.resolvedAt !== 0 && a.resolvedAt > a.lastSentAt) || a.lastSentAt + resendDelayMs <= t;
      if (!needs) continue;
      if (a.resolvedAt === 0) a.validUntil = t + 4 * delta;
      a.lastSentAt = t;
      out.push({
        labels: { ...this.opts.externalLabels, ...labelsToObject(a.labels) },
        annotations: { ...a.annotations },
        startsAt: a.firedAt || a.activeAt,
        endsAt: a.resolvedAt !== 0 ? a.resolvedAt : a.validUntil,
        generatorURL,
      });
    }
    return out;
  }
}

async function expandOrError(
  tmpl: Template,
  data: Parameters<Template['execute']>[0],
  opts: Parameters<Template['execute']>[1],
): Promise<string> {
  try {
    return await tmpl.execute(data, opts);
  } catch (err) {
    // Prometheus puts the error text in place of the value so the alert still goes out.
    return `<error expanding template: ${(err as Error).message}>`;
  }
}
