/**
 * The alert the notifier is handed: Alertmanager's `model.Alert`, with times in epoch ms.
 * The notifier knows nothing of rules beyond this shape.
 */
import { fingerprint, labelsFromObject } from '../../shared/index.js';

export interface Alert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** When the alert started (ms). */
  readonly startsAt: number;
  /** When the alert ends or ended (ms); 0 when unknown. At or before now means resolved. */
  readonly endsAt: number;
  readonly generatorURL: string;
}

/**
 * Alertmanager's fingerprint of a label set: 64-bit FNV-1a over sorted name/value pairs
 * with 0xff separators, as 16 hex digits (`model.LabelSet.Fingerprint().String()`).
 */
export function alertFingerprint(labels: Readonly<Record<string, string>>): string {
  return fingerprint(labelsFromObject(labels));
}

/** True when the alert's end lies at or before `now`. */
export function isResolved(a: Alert, now: number): boolean {
  return a.endsAt !== 0 && a.endsAt <= now;
}

/** Go's `time.Time` JSON form in UTC (RFC 3339 with up to nanoseconds, trailing zeros dropped). */
export function goTime(ms: number): string {
  if (ms === 0) return '0001-01-01T00:00:00Z';
  const iso = new Date(ms).toISOString(); // always .sssZ
  return iso.replace(/\.?0*Z$/, 'Z').replace(/\.(\d*?)0+Z$/, '.$1Z');
}

/** Parses an RFC 3339 time (Go or JS form); 0 for Go's zero time. */
export function parseTime(s: string): number {
  if (s.startsWith('0001-01-01')) return 0;
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) throw new Error(`invalid time ${JSON.stringify(s)}`);
  return ms;
}
