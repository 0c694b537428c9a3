/**
 * Number formatting as Go's `fmt` and Prometheus's template functions do it, so that
 * annotations rendered by kubepulse read exactly as Prometheus renders them.
 */

function goExp(e: number): string {
  const sign = e < 0 ? '-' : '+';
  const a = Math.abs(e);
  return `e${sign}${a < 10 ? '0' : ''}${a}`;
}

/** Go's `%e` with `prec` digits after the point. */
export function goFormatE(v: number, prec: number): string {
  if (!Number.isFinite(v)) return goSpecial(v);
  const s = v.toExponential(prec);
  const [m, e] = s.split('e');
  return m + goExp(Number(e));
}

function goSpecial(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

/**
 * Go's `%g` / `strconv.FormatFloat(v, 'g', prec, 64)`: `prec` significant digits (shortest
 * exact when -1), trailing zeros removed, exponent form when exp < -4 or exp ≥ precision.
 */
export function goFormatG(v: number, prec = -1): string {
  if (!Number.isFinite(v)) return goSpecial(v);
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  let digits: string;
  let exp: number;
  if (prec < 0) {
    const [m, e] = v.toExponential().split('e');
    digits = m.replace('-', '').replace('.', '');
    exp = Number(e);
  } else {
    const p = prec === 0 ? 1 : prec;
    const [m, e] = v.toExponential(p - 1).split('e');
    digits = m.replace('-', '').replace('.', '').replace(/0+$/, '') || '0';
    exp = Number(e);
  }
  let eprec = prec < 0 ? 6 : prec === 0 ? 1 : prec;
  if (prec >= 0 && eprec > digits.length && digits.length >= exp + 1) eprec = digits.length;
  if (prec < 0) eprec = 6;
  const neg = v < 0 ? '-' : '';
  if (exp < -4 || exp >= eprec) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return neg + mant + goExp(exp);
  }
  if (exp < 0) return `${neg}0.${'0'.repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return neg + digits + '0'.repeat(exp + 1 - digits.length);
  return `${neg}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/** `{{ $value }}` of a float: Go's `%v`. */
export function formatValue(v: number): string {
  return goFormatG(v, -1);
}

/** Prometheus's `humanize`: SI prefixes, 4 significant digits. */
export function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return goFormatG(v, 4);
  if (Math.abs(v) >= 1) {
    let prefix = '';
    for (const p of ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return goFormatG(v, 4) + prefix;
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return goFormatG(v, 4) + prefix;
}

/** Prometheus's `humanize1024`: binary prefixes. */
export function humanize1024(v: number): string {
  if (Math.abs(v) <= 1 || !Number.isFinite(v)) return goFormatG(v, 4);
  let prefix = '';
  for (const p of ['ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi']) {
    if (Math.abs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return goFormatG(v, 4) + prefix;
}

/** Prometheus's `humanizePercentage`: a ratio as a percentage. */
export function humanizePercentage(v: number): string {
  return goFormatG(v * 100, 4) + '%';
}

/** Prometheus's `humanizeDuration`: seconds as `1d 2h 3m 4s`, sub-second with SI prefixes. */
export function humanizeDuration(v: number): string {
  if (!Number.isFinite(v)) return goFormatG(v, 4);
  if (v === 0) return '0s';
  if (Math.abs(v) >= 1) {
    const sign = v < 0 ? '-' : '';
    const a = Math.abs(v);
    const total = Math.trunc(a);
    const days = Math.floor(total / 86400);
    const hours = Math.floor(total / 3600) % 24;
    const minutes = Math.floor(total / 60) % 60;
    const seconds = total % 60;
    if (days !== 0) return `${sign}${days}d ${hours}h ${minutes}m ${seconds}s`;
    if (hours !== 0) return `${sign}${hours}h ${minutes}m ${seconds}s`;
    if (minutes !== 0) return `${sign}${minutes}m ${seconds}s`;
    return `${sign}${goFormatG(a, 4)}s`;
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return `${goFormatG(v, 4)}${prefix}s`;
}

/** Prometheus's `humanizeTimestamp`: Go's default `time.Time` format in UTC. */
export function humanizeTimestamp(v: number): string {
  if (!Number.isFinite(v)) return goFormatG(v, 4);
  const ms = v * 1000;
  const d = new Date(Math.floor(ms));
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  let frac = '';
  const nanos = Math.round((v - Math.floor(v)) * 1e9);
  if (nanos > 0) frac = '.' + String(nanos).padStart(9, '0').replace(/0+$/, '');
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac} +0000 UTC`
  );
}

/** Go's `fmt.Sprintf` for the verbs rule packs use: %s %v %d %f %e %g %q %x %X %%, with width/precision. */
export function sprintf(format: string, args: readonly unknown[]): string {
  let i = 0;
  let out = '';
  const re = /%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    out += format.slice(last, m.index);
    last = re.lastIndex;
    const [, flags, widthS, precS, verb] = m;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (i >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[i++];
    const prec = precS === undefined ? undefined : Number(precS);
    let s: string;
    switch (verb) {
      case 'd':
        s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${goTypeName(a)}=${toText(a)})`;
        break;
      case 'f':
      case 'F':
        s = typeof a === 'number' ? (Number.isFinite(a) ? a.toFixed(prec ?? 6) : goSpecial(a)) : `%!f(${goTypeName(a)}=${toText(a)})`;
        break;
      case 'e':
        s = typeof a === 'number' ? goFormatE(a, prec ?? 6) : `%!e(${goTypeName(a)}=${toText(a)})`;
        break;
      case 'g':
        s = typeof a === 'number' ? goFormatG(a, prec ?? -1) : `%!g(${goTypeName(a)}=${toText(a)})`;
        break;
      case 'q':
        s = JSON.stringify(toText(a));
        break;
      case 'x':
      case 'X': {
        s = typeof a === 'number' ? Math.trunc(a).toString(16) : Buffer.from(toText(a)).toString('hex');
        if (verb === 'X') s = s.toUpperCase();
        break;
      }
      case 't':
        s = String(Boolean(a));
        break;
      default: // s, v
        s = toText(a);
        if (prec !== undefined && verb === 's') s = s.slice(0, prec);
    }
    if (flags.includes('+') && typeof a === 'number' && a >= 0 && 'dfeg'.includes(verb)) s = '+' + s;
    const width = widthS === undefined ? 0 : Number(widthS);
    if (s.length < width) {
      const padChar = flags.includes('0') && !flags.includes('-') ? '0' : ' ';
      s = flags.includes('-') ? s.padEnd(width) : s.padStart(width, padChar);
    }
    out += s;
  }
  out += format.slice(last);
  if (i < args.length) out += `%!(EXTRA ${args.slice(i).map((a) => `${goTypeName(a)}=${toText(a)}`).join(', ')})`;
  return out;
}

function goTypeName(a: unknown): string {
  if (typeof a === 'number') return 'float64';
  if (typeof a === 'string') return 'string';
  if (typeof a === 'boolean') return 'bool';
  return 'interface {}';
}

/** How Go's text/template prints a value. */
export function toText(v: unknown): string {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'number') return formatValue(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(toText).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort();
    return `map[${keys.map((k) => `${k}:${toText(o[k])}`).join(' ')}]`;
  }
  return String(v);
}
