/**
 * The Alertmanager webhook body (`version: "4"`), built field for field as Alertmanager
 * 0.25 builds it (`notify/webhook/webhook.go`, `template.Data`): alerts sorted as
 * `types.AlertSlice`, `max_alerts` truncation before the common labels are computed,
 * firing alerts with Go's zero `endsAt`, map keys sorted as Go's encoding/json writes them.
 */
import { type Alert, alertFingerprint, goTime, isResolved } from './alert.js';

export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export interface WebhookMessage {
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: WebhookAlert[];
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
}

function sortedObj(o: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k];
  return out;
}

function labelsBefore(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  // model.LabelSet.Before: compare sorted names, then values, then length.
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    if (ka[i] !== kb[i]) return ka[i] < kb[i];
    if (a[ka[i]] !== b[kb[i]]) return a[ka[i]] < b[kb[i]];
  }
  return ka.length < kb.length;
}

/** Alertmanager's `types.AlertSlice` order: by `job`, then `instance`, then label set. */
export function sortAlerts(alerts: readonly Alert[]): Alert[] {
  const less = (x: Alert, y: Alert): boolean => {
    for (const k of ['job', 'instance']) {
      const xv = x.labels[k];
      const yv = y.labels[k];
      if (xv === undefined && yv === undefined) continue;
      if (xv === undefined) return false;
      if (yv === undefined) return true;
      if (xv !== yv) return xv < yv;
    }
    return labelsBefore(x.labels, y.labels);
  };
  return [...alerts].sort((x, y) => (less(x, y) ? -1 : less(y, x) ? 1 : 0));
}

function common(maps: ReadonlyArray<Readonly<Record<string, string>>>): Record<string, string> {
  if (!maps.length) return {};
  const out: Record<string, string> = { ...maps[0] };
  for (const m of maps.slice(1)) {
    for (const k of Object.keys(out)) if (m[k] !== out[k]) delete out[k];
  }
  return sortedObj(out);
}

export interface BuildOptions {
  readonly receiver: string;
  readonly groupKey: string;
  readonly groupLabels: Readonly<Record<string, string>>;
  readonly externalURL: string;
  /** 0 = no limit. */
  readonly maxAlerts: number;
  readonly now: number;
}

/** The body for `alerts` (already filtered by send_resolved), sorted and truncated. */
export function buildWebhookMessage(alerts: readonly Alert[], o: BuildOptions): WebhookMessage {
  let sorted = sortAlerts(alerts);
  let truncated = 0;
  if (o.maxAlerts > 0 && sorted.length > o.maxAlerts) {
    truncated = sorted.length - o.maxAlerts;
    sorted = sorted.slice(0, o.maxAlerts);
  }
  const wa = sorted.map((a): WebhookAlert => {
    const resolved = isResolved(a, o.now);
    return {
      status: resolved ? 'resolved' : 'firing',
      labels: sortedObj(a.labels),
      annotations: sortedObj(a.annotations),
      startsAt: goTime(a.startsAt),
      endsAt: resolved ? goTime(a.endsAt) : goTime(0),
      generatorURL: a.generatorURL,
      fingerprint: alertFingerprint(a.labels),
    };
  });
  return {
    receiver: o.receiver,
    status: wa.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    alerts: wa,
    groupLabels: sortedObj(o.groupLabels),
    commonLabels: common(sorted.map((a) => a.labels)),
    commonAnnotations: common(sorted.map((a) => a.annotations)),
    externalURL: o.externalURL,
    version: '4',
    groupKey: o.groupKey,
    truncatedAlerts: truncated,
  };
}

/** Alertmanager's `model.LabelSet.String()`: `{a="1", b="2"}` with sorted names. */
export function labelSetString(ls: Readonly<Record<string, string>>): string {
  return `{${Object.keys(ls)
    .sort()
    .map((k) => `${k}=${JSON.stringify(ls[k])}`)
    .join(', ')}}`;
}
