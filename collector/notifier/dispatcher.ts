/**
 * Alertmanager's dispatcher on an injectable clock: alerts are routed through the tree,
 * grouped per route by `group_by`, and each group is flushed after `group_wait`, then
 * every `group_interval`. A flush mutes silenced and inhibited alerts, asks the
 * notification log whether the receiver must hear about the group (new firing alerts,
 * changed resolved set with send_resolved, or `repeat_interval` passed — `DedupStage`),
 * and writes the notification to the outbox.
 */
import type { Alert } from './alert.js';
import { alertFingerprint, isResolved } from './alert.js';
import { matchRoutes, type AlertingConfig, type Route } from './config.js';
import { Inhibitor } from './inhibit.js';
import { matchesAll } from './matchers.js';
import type { Silences } from './silences.js';
import type { NflogEntry, NotifierStore } from './store.js';
import { buildWebhookMessage, labelSetString } from './webhook-body.js';

interface AggGroup {
  readonly route: Route;
  readonly labels: Record<string, string>;
  readonly key: string;
  readonly alerts: Map<string, Alert>;
  nextFlushAt: number;
  hasFlushed: boolean;
}

/** A group as the API shows it. */
export interface GroupView {
  readonly key: string;
  readonly receiver: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly alerts: readonly Alert[];
}

export interface DispatcherDeps {
  readonly store: NotifierStore;
  readonly silences: Silences;
  /** Called once per notification written to the outbox. */
  readonly onEnqueued?: (receiver: string) => void;
}

export class Dispatcher {
  private alerts = new Map<string, Alert>();
  private groups = new Map<string, AggGroup>();
  private inhibitor: Inhibitor;

  constructor(
    private config: AlertingConfig,
    private readonly deps: DispatcherDeps,
  ) {
    this.inhibitor = new Inhibitor(config.inhibitRules);
  }

  /** Swaps routes/receivers; groups are rebuilt from the known alerts, as Alertmanager does on reload. */
  applyConfig(cfg: AlertingConfig, now: number): void {
    this.config = cfg;
    this.inhibitor = new Inhibitor(cfg.inhibitRules);
    const old = this.groups;
    this.groups = new Map();
    for (const a of this.alerts.values()) this.route(a, now);
    // Keep timing of groups that survive so a reload does not re-notify early.
    for (const [k, g] of this.groups) {
      const o = old.get(k);
      if (o) {
        g.nextFlushAt = o.nextFlushAt;
        g.hasFlushed = o.hasFlushed;
      }
    }
  }

  /** Takes alerts in (Alertmanager's `PUT`): merges with known ones and routes them. */
  put(alerts: readonly Alert[], now: number): void {
    for (const incoming of alerts) {
      const fp = alertFingerprint(incoming.labels);
      const old = this.alerts.get(fp);
      let a = incoming;
      if (old && overlaps(old, incoming)) {
        a = { ...incoming, startsAt: Math.min(old.startsAt, incoming.startsAt) };
      }
      this.alerts.set(fp, a);
      this.route(a, now);
    }
  }

  private route(a: Alert, now: number): void {
    const fp = alertFingerprint(a.labels);
    for (const r of matchRoutes(this.config.route, a.labels, matchesAll)) {
      const labels: Record<string, string> = {};
      if (r.groupByAll) Object.assign(labels, a.labels);
      else for (const l of r.groupBy) if (a.labels[l] !== undefined && a.labels[l] !== '') labels[l] = a.labels[l];
      const key = `${r.key}:${labelSetString(labels)}`;
      let g = this.groups.get(key);
      if (!g) {
        g = { route: r, labels, key, alerts: new Map(), nextFlushAt: now + r.groupWaitMs, hasFlushed: false };
        this.groups.set(key, g);
      }
      g.alerts.set(fp, a);
      // An alert older than group_wait need not wait (aggrGroup.insert).
      if (!g.hasFlushed && a.startsAt + r.groupWaitMs < now) g.nextFlushAt = now;
    }
  }

  /** Flushes every group due at `now` (ms). */
  tick(now: number): void {
    // One transaction for every flush of the round: one fsync, not one per group.
    this.deps.store.db.transaction(() => {
      for (const g of [...this.groups.values()]) {
        if (g.nextFlushAt > now) continue;
        g.nextFlushAt = now + g.route.groupIntervalMs;
        g.hasFlushed = true;
        this.flush(g, now);
      }
    })();
    // Forget alerts resolved long ago (Alertmanager's alert GC).
    for (const [fp, a] of this.alerts) if (isResolved(a, now) && now - a.endsAt > 3_600_000) this.alerts.delete(fp);
  }

  /** Earliest flush time of any group (ms). */
  nextDue(): number | undefined {
    let min: number | undefined;
    for (const g of this.groups.values()) if (min === undefined || g.nextFlushAt < min) min = g.nextFlushAt;
    return min;
  }

  /** Alerts currently known, with whether they are muted and by what. */
  alertsView(now: number): Array<{ alert: Alert; silencedBy: string[]; inhibitedBy: string[]; receivers: string[] }> {
    return [...this.alerts.values()].map((a) => {
      const inh = this.inhibitor.inhibitedBy(a.labels, this.alerts.values(), now);
      return {
        alert: a,
        silencedBy: this.deps.silences.mutedBy(a.labels, now),
        inhibitedBy: inh ? [inh] : [],
        receivers: [...new Set(matchRoutes(this.config.route, a.labels, matchesAll).map((r) => r.receiver))],
      };
    });
  }

  groupsView(): GroupView[] {
    return [...this.groups.values()].map((g) => ({ key: g.key, receiver: g.route.receiver, labels: g.labels, alerts: [...g.alerts.values()] }));
  }

  private muted(a: Alert, now: number): boolean {
    if (this.deps.silences.mutedBy(a.labels, now).length) return true;
    return this.inhibitor.inhibitedBy(a.labels, this.alerts.values(), now) !== undefined;
  }

  private flush(g: AggGroup, now: number): void {
    const flushed = [...g.alerts.values()];
    const visible = flushed.filter((a) => !this.muted(a, now));
    const integrations = this.config.receivers.get(g.route.receiver) ?? [];
    if (visible.length) {
      const firing = new Set<string>();
      const resolved = new Set<string>();
      for (const a of visible) (isResolved(a, now) ? resolved : firing).add(alertFingerprint(a.labels));
      const rows = [];
      for (const integ of integrations) {
        const nflogKey = `${g.key}|${integ.receiver}|webhook|${integ.index}`;
        const entry = this.deps.store.nflog(nflogKey);
        if (!needsUpdate(entry, firing, resolved, integ.sendResolved, g.route.repeatIntervalMs, now)) continue;
        const toSend = integ.sendResolved ? visible : visible.filter((a) => !isResolved(a, now));
        this.deps.store.setNflog(nflogKey, { firing, resolved, t: now });
        if (!toSend.length) continue;
        const msg = buildWebhookMessage(toSend, {
          receiver: integ.receiver,
          groupKey: g.key,
          groupLabels: g.labels,
          externalURL: this.config.externalURL,
          maxAlerts: integ.maxAlerts,
          now,
        });
        rows.push({
          kind: 'webhook',
          target: integ.receiver,
          integration: integ.index,
          body: JSON.stringify(msg),
          fingerprints: msg.alerts.map((a) => a.fingerprint),
          status: msg.status,
          createdAt: now,
          nextAttemptAt: now,
        });
      }
      if (rows.length) {
        this.deps.store.enqueue(rows);
        for (const r of rows) this.deps.onEnqueued?.(r.target);
      }
    }
    // Resolved alerts that did not change since the flush leave the group.
    for (const a of flushed) {
      const fp = alertFingerprint(a.labels);
      if (isResolved(a, now) && g.alerts.get(fp) === a) g.alerts.delete(fp);
    }
    if (g.alerts.size === 0) this.groups.delete(g.key);
  }
}

function overlaps(old: Alert, n: Alert): boolean {
  const oldEnd = old.endsAt === 0 ? Infinity : old.endsAt;
  return (n.endsAt > old.startsAt && n.endsAt < oldEnd) || (n.startsAt >= old.startsAt && n.startsAt < oldEnd) || n.endsAt === 0;
}

/** Alertmanager's `DedupStage.needsUpdate`. */
export function needsUpdate(
  entry: NflogEntry | undefined,
  firing: ReadonlySet<string>,
  resolved: ReadonlySet<string>,
  sendResolved: boolean,
  repeatMs: number,
  now: number,
): boolean {
  if (!entry) return firing.size > 0;
  for (const f of firing) if (!entry.firing.has(f)) return true;
  if (firing.size === 0) return entry.firing.size > 0;
  if (sendResolved) for (const r of resolved) if (!entry.resolved.has(r)) return true;
  return entry.t < now - repeatMs;
}
