/**
 * The notifier: takes alerts (a `NotifyFunc` target), routes and groups them into
 * Alertmanager-format webhooks, forwards them to configured Alertmanagers
 * (`POST /api/v2/alerts`), and delivers both through a durable SQLite outbox with
 * exponential backoff on 5xx, 429 and network errors. At-least-once: every webhook carries
 * `X-Kubepulse-Notification-Id` (stable across retries) so receivers can drop duplicates.
 */
import { createHmac } from 'node:crypto';
import type { Database as Db } from 'better-sqlite3';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger, Service } from '../../shared/index.js';
import { backoffDelay, noopLogger } from '../../shared/index.js';
import { type Alert, goTime } from './alert.js';
import { buildAlertingConfig, type AlertingConfig, type HttpSettings, type RawAlertingConfig } from './config.js';
import { Dispatcher } from './dispatcher.js';
import { postJSON, type PostResult } from './http-send.js';
import { Silences } from './silences.js';
import { NotifierStore, type OutboxRow } from './store.js';

/** What the history wants to know about each delivery attempt. */
export interface DeliveryReport {
  readonly fingerprints: readonly string[];
  readonly receiver: string;
  readonly status: 'firing' | 'resolved';
  readonly code: number;
  readonly error: string;
  readonly t: number;
}

export interface NotifierOptions {
  /** The `alerting:` config section (raw, as in the YAML) or an already built one. */
  readonly config: RawAlertingConfig | AlertingConfig;
  /** SQLite file, ':memory:' or open handle for the outbox, notification log and silences. */
  readonly db: string | Db;
  readonly logger?: Logger;
  readonly registry?: Registry;
  readonly now?: () => number;
  /** First retry delay (default 1 s) and cap (default 5 min). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Undelivered notifications older than this are dropped (default 24 h). */
  readonly maxAgeMs?: number;
  /** Concurrent deliveries (default 8). */
  readonly concurrency?: number;
  readonly onDelivery?: (r: DeliveryReport) => void;
  readonly random?: () => number;
}

/** What a delivery attempt leaves to do in the outbox: delete the row, or retry at a time. */
interface Outcome {
  readonly id: number;
  readonly retryAt?: number;
  readonly error: string;
}

interface NotifierMetrics {
  sent: Counter<'receiver'>;
  failed: Counter<'receiver'>;
  retried: Counter<'receiver'>;
  dropped: Counter<'receiver' | 'reason'>;
  latency: Histogram<'receiver'>;
  received: Counter;
  queue: Gauge;
}

function isBuilt(c: RawAlertingConfig | AlertingConfig): c is AlertingConfig {
  return (c as AlertingConfig).receivers instanceof Map;
}

export class Notifier implements Service {
  readonly store: NotifierStore;
  readonly silences: Silences;
  private config: AlertingConfig;
  private readonly dispatcher: Dispatcher;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly m: NotifierMetrics;
  private readonly inFlight = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private ticking: Promise<void> | undefined;

  constructor(private readonly opts: NotifierOptions) {
    this.log = (opts.logger ?? noopLogger()).child({ component: 'notifier' });
    this.now = opts.now ?? Date.now;
    this.config = isBuilt(opts.config) ? opts.config : buildAlertingConfig(opts.config);
    this.store = new NotifierStore(opts.db);
    this.silences = new Silences(this.store);
    const registers = opts.registry ? [opts.registry] : [];
    const store = this.store;
    this.m = {
      sent: new Counter({ name: 'kubepulse_notifier_notifications_sent_total', help: 'Notifications delivered (2xx).', labelNames: ['receiver'], registers }),
      failed: new Counter({ name: 'kubepulse_notifier_notifications_failed_total', help: 'Delivery attempts that failed.', labelNames: ['receiver'], registers }),
      retried: new Counter({ name: 'kubepulse_notifier_notifications_retried_total', help: 'Delivery attempts scheduled for retry.', labelNames: ['receiver'], registers }),
      dropped: new Counter({ name: 'kubepulse_notifier_notifications_dropped_total', help: 'Notifications given up.', labelNames: ['receiver', 'reason'], registers }),
      latency: new Histogram({
        name: 'kubepulse_notifier_latency_seconds',
        help: 'Time of one delivery attempt.',
        labelNames: ['receiver'],
        buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
        registers,
      }),
      received: new Counter({ name: 'kubepulse_notifier_alerts_received_total', help: 'Alerts handed to the notifier.', registers }),
      queue: new Gauge({
        name: 'kubepulse_notifier_queue_length',
        help: 'Notifications waiting in the outbox.',
        registers,
        collect() {
          this.set(store.length());
        },
      }),
    };
    this.dispatcher = new Dispatcher(this.config, { store: this.store, silences: this.silences });
  }

  /** Swaps routes, receivers, inhibit rules and Alertmanagers; throws `ConfigError` and keeps the old ones on failure. */
  applyConfig(raw: RawAlertingConfig | AlertingConfig): void {
    const cfg = isBuilt(raw) ? raw : buildAlertingConfig(raw);
    this.config = cfg;
    this.dispatcher.applyConfig(cfg, this.now());
    this.log.info({ receivers: cfg.receivers.size, alertmanagers: cfg.alertmanagers.length }, 'Alerting configuration applied');
  }

  /** The {@link NotifyFunc} entry: routes alerts and queues them for every Alertmanager. */
  send = (alerts: readonly Alert[]): void => {
    if (!alerts.length) return;
    const now = this.now();
    this.m.received.inc(alerts.length);
    this.dispatcher.put(alerts, now);
    if (this.config.alertmanagers.length) {
      // Prometheus's body for /api/v2/alerts: postableAlerts.
      const body = JSON.stringify(
        alerts.map((a) => ({
          labels: a.labels,
          annotations: a.annotations,
          startsAt: goTime(a.startsAt),
          ...(a.endsAt ? { endsAt: goTime(a.endsAt) } : {}),
          generatorURL: a.generatorURL,
        })),
      );
      const rows = this.config.alertmanagers.map((am) => ({
        kind: 'alertmanager',
        target: am.url,
        integration: 0,
        body,
        fingerprints: [],
        status: 'firing',
        createdAt: now,
        nextAttemptAt: now,
      }));
      this.store.enqueue(rows);
    }
    this.kick();
  };

  /** Alerts known to the dispatcher, with mute state; for `/api/v1/alerts`-style views. */
  alerts(): ReturnType<Dispatcher['alertsView']> {
    return this.dispatcher.alertsView(this.now());
  }

  groups(): ReturnType<Dispatcher['groupsView']> {
    return this.dispatcher.groupsView();
  }

  /** Flushes due groups and delivers due outbox rows at `now`; resolves when this round's attempts are done. */
  async tick(now: number = this.now()): Promise<void> {
    this.dispatcher.tick(now);
    await this.deliverDue(now);
  }

  private async deliverDue(now: number): Promise<void> {
    const conc = this.opts.concurrency ?? 8;
    const rows = this.store.due(now, 256).filter((r) => !this.inFlight.has(r.id));
    const outcomes: Outcome[] = [];
    let i = 0;
    const worker = async () => {
      while (i < rows.length) {
        const r = rows[i++];
        this.inFlight.add(r.id);
        try {
          outcomes.push(await this.deliver(r, now));
        } catch (err) {
          this.log.error({ err, id: r.id }, 'Delivering a notification failed unexpectedly');
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(conc, rows.length) }, worker));
    } finally {
      // One transaction per round: a crash before it re-sends this round (at-least-once).
      this.store.db.transaction(() => {
        for (const o of outcomes) {
          if (o.retryAt === undefined) this.store.delivered(o.id);
          else this.store.retryAt(o.id, o.retryAt, o.error);
        }
      })();
      for (const r of rows) this.inFlight.delete(r.id);
    }
  }

  private target(r: OutboxRow): { url: string; http: HttpSettings; headers: Record<string, string>; name: string } | undefined {
    if (r.kind === 'alertmanager') {
      const am = this.config.alertmanagers.find((a) => a.url === r.target);
      if (!am) return undefined;
      return { url: `${am.url}/api/v2/alerts`, http: am.http, headers: {}, name: `alertmanager:${am.url}` };
    }
    const integ = this.config.receivers.get(r.target)?.[r.integration];
    if (!integ) return undefined;
    const headers: Record<string, string> = { 'x-kubepulse-notification-id': String(r.id) };
    if (integ.signature) {
      headers[integ.signature.header.toLowerCase()] = 'sha256=' + createHmac('sha256', integ.signature.secret).update(r.body).digest('hex');
    }
    return { url: integ.url, http: integ.http, headers, name: r.target };
  }

  private async deliver(r: OutboxRow, now: number): Promise<Outcome> {
    const t = this.target(r);
    const receiver = t?.name ?? r.target;
    const done: Outcome = { id: r.id, error: '' };
    if (!t) {
      this.m.dropped.inc({ receiver, reason: 'receiver_removed' });
      this.log.warn({ receiver, id: r.id }, 'Dropping notification: its receiver is no longer configured');
      return done;
    }
    if (now - r.createdAt > (this.opts.maxAgeMs ?? 86_400_000)) {
      this.m.dropped.inc({ receiver, reason: 'too_old' });
      this.log.error({ receiver, id: r.id, attempts: r.attempts, lastError: r.lastError }, 'Dropping notification: undelivered for too long');
      return done;
    }
    const start = performance.now();
    const res: PostResult = await postJSON(t.url, r.body, t.http, t.headers);
    this.m.latency.observe({ receiver }, (performance.now() - start) / 1000);
    const at = this.now();
    if (r.kind === 'webhook') {
      this.opts.onDelivery?.({
        fingerprints: r.fingerprints,
        receiver,
        status: r.status === 'resolved' ? 'resolved' : 'firing',
        code: res.status,
        error: res.error,
        t: at,
      });
    }
    if (res.status >= 200 && res.status < 300) {
      this.m.sent.inc({ receiver });
      if (r.attempts > 0) this.log.info({ receiver, id: r.id, attempts: r.attempts + 1 }, 'Notification delivered after retries');
      return done;
    }
    this.m.failed.inc({ receiver });
    const retryable = res.status === 0 || res.status === 429 || res.status >= 500;
    if (!retryable) {
      this.m.dropped.inc({ receiver, reason: 'rejected' });
      this.log.error({ receiver, id: r.id, status: res.status, error: res.error }, 'Receiver refused the notification; not retrying');
      return done;
    }
    const delay = backoffDelay(r.attempts, this.opts.backoffBaseMs ?? 1000, this.opts.backoffMaxMs ?? 300_000, this.opts.random);
    this.m.retried.inc({ receiver });
    this.log.warn({ receiver, id: r.id, attempt: r.attempts + 1, retryInMs: Math.round(delay), error: res.error }, 'Notification failed; will retry');
    return { id: r.id, retryAt: at + delay, error: res.error };
  }

  /** Runs `tick` now (used after new alerts arrive) unless stopped. */
  private kick(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.schedule(0);
  }

  private schedule(delay?: number): void {
    if (this.stopped) return;
    if (delay === undefined) {
      const now = this.now();
      const next = Math.min(this.dispatcher.nextDue() ?? Infinity, this.store.nextDue() ?? Infinity);
      delay = Number.isFinite(next) ? Math.max(0, Math.min(next - now, 1000)) : 1000;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.ticking) return this.schedule(50);
      this.ticking = this.tick()
        .catch((err: unknown) => this.log.error({ err }, 'Notifier loop failed'))
        .finally(() => {
          this.ticking = undefined;
          if (!this.timer) this.schedule();
        });
    }, delay);
    this.timer.unref();
  }

  /** Starts delivering; resumes whatever the outbox holds from before a restart. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    const pending = this.store.length();
    if (pending) this.log.info({ pending }, 'Resuming undelivered notifications');
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
  }

  /** Stops and closes the store (when it opened it). */
  async close(): Promise<void> {
    await this.stop();
    this.store.close();
  }
}
