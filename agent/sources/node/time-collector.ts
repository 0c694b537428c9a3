/**
 * node_exporter's time collector: the clock, the local zone and the clocksources.
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeCollector } from './read.js';
import { emitOne, readDirOptional, readOptional } from './read.js';

let zoneFormat: Intl.DateTimeFormat | undefined;
let utcLocaltime: boolean | undefined;

const UTC_NAME = /^:?(.*\/)?(Etc\/)?(UTC|UCT|Universal|Zulu)0?$/;

/** Whether /etc/localtime is absent or a link to a UTC zone (then TZ-less processes run in UTC). */
function localtimeIsUtc(): boolean {
  if (utcLocaltime === undefined) {
    try {
      utcLocaltime = UTC_NAME.test(realpathSync('/etc/localtime'));
    } catch {
      utcLocaltime = true;
    }
  }
  return utcLocaltime;
}

/**
 * The short zone name Go prints for the local zone (`UTC`, `CET`, …), as far as Intl knows
 * it. A UTC host (every container by default) is answered without Intl, whose time zone
 * data costs about 8 MB of RSS on first use.
 */
export function localZoneName(d: Date, tz: string | undefined = process.env.TZ): string {
  if (d.getTimezoneOffset() === 0 && (tz === undefined || tz === '' ? localtimeIsUtc() : UTC_NAME.test(tz))) return 'UTC';
  zoneFormat ??= new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' });
  return zoneFormat.formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? 'UTC';
}

export function timeCollector(clock: () => number = Date.now): NodeCollector {
  return {
    name: 'time',
    async collect(env, sink) {
      const nowMs = clock();
      emitOne(sink, 'node_time_seconds', 'gauge', 'System time in seconds since epoch (1970).', {}, nowMs / 1000);
      const d = new Date(nowMs);
      emitOne(sink, 'node_time_zone_offset_seconds', 'gauge', 'System time zone offset in seconds.', { time_zone: localZoneName(d) }, -d.getTimezoneOffset() * 60);
      const base = join(env.paths.sys, 'devices/system/clocksource');
      const entries = (await readDirOptional(base)) ?? [];
      for (const e of entries.sort()) {
        const m = /^clocksource(\d+)$/.exec(e);
        if (!m) continue;
        const device = m[1];
        const available = await readOptional(join(base, e, 'available_clocksource'), env.signal);
        const current = await readOptional(join(base, e, 'current_clocksource'), env.signal);
        if (available !== undefined) {
          sink.family('node_time_clocksource_available_info', 'gauge', 'Available clocksources read from \'/sys/devices/system/clocksource\'.');
          for (const cs of available.trim().split(/\s+/)) if (cs) sink.add('node_time_clocksource_available_info', { clocksource: cs, device }, 1);
        }
        if (current !== undefined && current.trim()) {
          emitOne(sink, 'node_time_clocksource_current_info', 'gauge', 'Current clocksource read from \'/sys/devices/system/clocksource\'.', { clocksource: current.trim(), device }, 1);
        }
      }
    },
  };
}
