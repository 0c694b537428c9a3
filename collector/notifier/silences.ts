/**
 * Silences: matchers plus a time range that mute matching alerts, as Alertmanager's
 * (`silence/silence.go`), kept in the notifier's SQLite store. Deleting a silence expires
 * it (its end moves to now), so the record stays for the history.
 */
import { randomUUID } from 'node:crypto';
import { KubepulseError } from '../../shared/index.js';
import { matchesAll, newMatcher, type AmMatcher } from './matchers.js';
import type { NotifierStore, SilenceRecord } from './store.js';

export type SilenceState = 'pending' | 'active' | 'expired';

export interface Silence extends SilenceRecord {
  state: SilenceState;
}

export class SilenceError extends KubepulseError {
  constructor(message: string) {
    super('KP_ERR_SILENCE', message);
  }
}

function compile(s: SilenceRecord): AmMatcher[] {
  return s.matchers.map((m) => newMatcher(m.name, m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=', m.value));
}

export class Silences {
  private cache: Array<{ rec: SilenceRecord; ms: AmMatcher[] }>;

  constructor(private readonly store: NotifierStore) {
    this.cache = store.silences().map((rec) => ({ rec, ms: compile(rec) }));
  }

  static state(s: SilenceRecord, now: number): SilenceState {
    if (now < s.startsAt) return 'pending';
    if (now >= s.endsAt) return 'expired';
    return 'active';
  }

  /** Creates or updates (same id) a silence; validates matchers and times. Returns the id. */
  put(input: Partial<SilenceRecord>, now: number): string {
    const problems: string[] = [];
    const matchers = input.matchers ?? [];
    if (!Array.isArray(matchers) || matchers.length === 0) problems.push('at least one matcher is required');
    let ms: AmMatcher[] = [];
    try {
      ms = compile({ matchers } as SilenceRecord);
    } catch (err) {
      problems.push((err as Error).message);
    }
    for (const m of matchers) {
      if (!m || typeof m.name !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(m.name)) problems.push(`invalid label name ${JSON.stringify(m?.name)}`);
      if (typeof m?.value !== 'string') problems.push(`matcher ${JSON.stringify(m?.name)} needs a string value`);
    }
    if (ms.length && ms.every((m) => (m.type === '=' || m.type === '=~' ? newMatchEmpty(m) : false))) {
      problems.push('at least one matcher must not match the empty string');
    }
    const startsAt = input.startsAt ?? now;
    const endsAt = input.endsAt;
    if (typeof startsAt !== 'number' || !Number.isFinite(startsAt)) problems.push('startsAt must be a time');
    if (typeof endsAt !== 'number' || !Number.isFinite(endsAt)) problems.push('endsAt must be a time');
    else if (endsAt <= startsAt) problems.push('end time must not be before start time');
    else if (endsAt < now) problems.push('end time can\'t be in the past');
    if (problems.length) throw new SilenceError(`invalid silence: ${problems.join('; ')}`);
    const existing = input.id ? this.cache.find((c) => c.rec.id === input.id) : undefined;
    if (input.id && !existing) throw new SilenceError(`silence ${input.id} not found`);
    const rec: SilenceRecord = {
      id: existing?.rec.id ?? randomUUID(),
      matchers: matchers.map((m) => ({ name: m.name, value: m.value, isRegex: Boolean(m.isRegex), isEqual: m.isEqual ?? true })),
      startsAt,
      endsAt: endsAt!,
      createdBy: input.createdBy ?? '',
      comment: input.comment ?? '',
      updatedAt: now,
    };
    this.store.putSilence(rec);
    this.cache = this.cache.filter((c) => c.rec.id !== rec.id);
    this.cache.push({ rec, ms });
    return rec.id;
  }

  /** Expires a silence; throws when unknown or already expired. */
  expire(id: string, now: number): void {
    const c = this.cache.find((x) => x.rec.id === id);
    if (!c) throw new SilenceError(`silence ${id} not found`);
    if (Silences.state(c.rec, now) === 'expired') throw new SilenceError(`silence ${id} already expired`);
    c.rec = { ...c.rec, endsAt: Math.max(now, c.rec.startsAt), updatedAt: now };
    this.store.putSilence(c.rec);
  }

  list(now: number): Silence[] {
    return this.cache.map((c) => ({ ...c.rec, state: Silences.state(c.rec, now) }));
  }

  get(id: string, now: number): Silence | undefined {
    const c = this.cache.find((x) => x.rec.id === id);
    return c && { ...c.rec, state: Silences.state(c.rec, now) };
  }

  /** Ids of the active silences muting `labels`. */
  mutedBy(labels: Readonly<Record<string, string>>, now: number): string[] {
    const out: string[] = [];
    for (const c of this.cache) if (Silences.state(c.rec, now) === 'active' && matchesAll(c.ms, labels)) out.push(c.rec.id);
    return out;
  }

  /** Drops silences expired before `before`. */
  gc(before: number): void {
    this.store.gcSilences(before);
    this.cache = this.cache.filter((c) => c.rec.endsAt >= before);
  }
}

function newMatchEmpty(m: AmMatcher): boolean {
  return m.type === '=' ? m.value === '' : m.re!.test('');
}
