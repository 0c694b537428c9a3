/**
 * Notifier: Alertmanager-compatible routing, grouping, silences, inhibition, webhooks and
 * Alertmanager v2 targets through a durable SQLite outbox.
 */
export type { Alert } from './alert.js';
export { alertFingerprint } from './alert.js';
export { Notifier } from './notifier.js';
export type { NotifierOptions, DeliveryReport } from './notifier.js';
export { buildAlertingConfig } from './config.js';
export type { AlertingConfig, RawAlertingConfig } from './config.js';
export { buildWebhookMessage } from './webhook-body.js';
export type { WebhookMessage } from './webhook-body.js';
export { Silences } from './silences.js';
export { silencesApiPlugin } from './api.js';
export type { SilencesApiOptions } from './api.js';
