/**
 * Inhibition as Alertmanager's `inhibit/inhibit.go`: a target alert is muted while a
 * firing source alert exists whose `equal` labels have the same values (absent on both
 * counts as equal); an alert matching both sides cannot inhibit one that also does.
 */
import type { Alert } from './alert.js';
import { alertFingerprint, isResolved } from './alert.js';
import type { InhibitRule } from './config.js';
import { matchesAll } from './matchers.js';

export class Inhibitor {
  constructor(private readonly rules: readonly InhibitRule[]) {}

  /** The fingerprint of the alert inhibiting `labels`, or undefined. */
  inhibitedBy(labels: Readonly<Record<string, string>>, alerts: Iterable<Alert>, now: number): string | undefined {
    for (const r of this.rules) {
      if (!matchesAll(r.target, labels)) continue;
      const excludeTwoSided = matchesAll(r.source, labels);
      for (const a of alerts) {
        if (isResolved(a, now) || !matchesAll(r.source, a.labels)) continue;
        if (!r.equal.every((ln) => (a.labels[ln] ?? '') === (labels[ln] ?? ''))) continue;
        if (excludeTwoSided && matchesAll(r.target, a.labels)) continue;
        return alertFingerprint(a.labels);
      }
    }
    return undefined;
  }
}
