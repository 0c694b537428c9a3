/**
 * Parameter parsing of the Prometheus HTTP API (`web/api/v1/api.go` parseTime /
 * parseDuration), with its error messages.
 */
import { parseDuration } from '../../../shared/index.js';
import { ApiError } from '../api-envelope.js';

/** The smallest and largest times the API accepts when a bound is omitted, ms. */
export const MIN_TIME = -9_223_372_036_854; // Prometheus's MinTime, in ms (fits a double)
export const MAX_TIME = 9_223_372_036_854;

function invalidParam(name: string, msg: string): ApiError {
  return new ApiError('bad_data', `invalid parameter "${name}": ${msg}`);
}

/** A timestamp as unix seconds (fractions allowed) or RFC 3339; returns ms. */
export function parseTimeParam(name: string, value: string): number {
  const v = value.trim();
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v)) {
    const secs = Number(v);
    const whole = Math.trunc(secs);
    // Go rounds the fractional part to milliseconds.
    return whole * 1000 + Math.round((secs - whole) * 1000);
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(v)) {
    const ms = Date.parse(v);
    if (!Number.isNaN(ms)) return ms;
  }
  // Go's RFC 3339 rendering of Prometheus's min/max time, which clients send back.
  if (v === '-292273086-05-16T16:47:06Z') return MIN_TIME;
  if (v === '292277025-08-18T07:12:54.999999999Z') return MAX_TIME;
  throw invalidParam(name, `cannot parse ${JSON.stringify(value)} to a valid timestamp`);
}

/** A duration as float seconds or a Prometheus duration string (`30s`, `1h`); returns ms. */
export function parseDurationParam(name: string, value: string): number {
  const v = value.trim();
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v)) {
    const ms = Number(v) * 1000;
    if (!Number.isFinite(ms) || Math.abs(ms) > 9.223372036854776e15) {
      throw invalidParam(name, `cannot parse ${JSON.stringify(value)} to a valid duration. It overflows int64`);
    }
    return Math.round(ms);
  }
  try {
    return parseDuration(v);
  } catch {
    throw invalidParam(name, `cannot parse ${JSON.stringify(value)} to a valid duration`);
  }
}
