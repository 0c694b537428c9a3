/**
 * The `alerting:` section in Alertmanager's own names (route, receivers, inhibit_rules)
 * plus Prometheus's `alertmanagers`, and its conversion into checked, typed objects.
 * Every problem is reported with its path, e.g. `alerting.route.routes[1].group_wait`.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, parseDuration } from '../../shared/index.js';
import { matchersString, newMatcher, parseMatchers, sortMatchers, type AmMatcher } from './matchers.js';

export interface RawHttpConfig {
  authorization?: { type?: string; credentials?: string; credentials_file?: string };
  bearer_token?: string;
  bearer_token_file?: string;
  basic_auth?: { username?: string; password?: string; password_file?: string };
  tls_config?: { ca_file?: string; cert_file?: string; key_file?: string; insecure_skip_verify?: boolean; server_name?: string };
}

export interface RawWebhookConfig {
  url: string;
  send_resolved?: boolean;
  max_alerts?: number;
  http_config?: RawHttpConfig;
  timeout?: string;
  headers?: Record<string, string>;
  signature?: { secret?: string; secret_file?: string; header?: string };
}

export interface RawRoute {
  receiver?: string;
  group_by?: string[];
  continue?: boolean;
  match?: Record<string, string>;
  match_re?: Record<string, string>;
  matchers?: string[];
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  routes?: RawRoute[];
}

export interface RawInhibitRule {
  source_match?: Record<string, string>;
  source_match_re?: Record<string, string>;
  source_matchers?: string[];
  target_match?: Record<string, string>;
  target_match_re?: Record<string, string>;
  target_matchers?: string[];
  equal?: string[];
}

export interface RawAlertmanager {
  url: string;
  timeout?: string;
  http_config?: RawHttpConfig;
}

export interface RawAlertingConfig {
  route?: RawRoute;
  receivers?: Array<{ name: string; webhook_configs?: RawWebhookConfig[] }>;
  inhibit_rules?: RawInhibitRule[];
  alertmanagers?: Array<RawAlertmanager | string>;
  /** The URL receivers link back to (`externalURL` in bodies). */
  external_url?: string;
}

/** Resolved HTTP client settings of one target. */
export interface HttpSettings {
  readonly authorization?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean; servername?: string };
  readonly timeoutMs: number;
}

export interface WebhookIntegration {
  readonly receiver: string;
  /** Index within the receiver's webhook_configs; `receiver/index` names the integration. */
  readonly index: number;
  readonly url: string;
  readonly sendResolved: boolean;
  readonly maxAlerts: number;
  readonly http: HttpSettings;
  readonly signature?: { secret: string; header: string };
}

export interface Route {
  readonly receiver: string;
  readonly groupBy: readonly string[];
  readonly groupByAll: boolean;
  readonly matchers: readonly AmMatcher[];
  readonly continue: boolean;
  readonly groupWaitMs: number;
  readonly groupIntervalMs: number;
  readonly repeatIntervalMs: number;
  readonly routes: readonly Route[];
  /** Alertmanager's `Route.Key()`: parent keys and matcher strings joined by `/`. */
  readonly key: string;
}

export interface InhibitRule {
  readonly source: readonly AmMatcher[];
  readonly target: readonly AmMatcher[];
  readonly equal: readonly string[];
}

export interface AlertingConfig {
  readonly route: Route;
  readonly receivers: ReadonlyMap<string, readonly WebhookIntegration[]>;
  readonly inhibitRules: readonly InhibitRule[];
  readonly alertmanagers: ReadonlyArray<{ url: string; http: HttpSettings }>;
  readonly externalURL: string;
}

/** Alertmanager's route defaults. */
export const ROUTE_DEFAULTS = { group_wait: '30s', group_interval: '5m', repeat_interval: '4h' } as const;

export const DEFAULT_SIGNATURE_HEADER = 'X-Kubepulse-Signature';

function readSecret(value: string | undefined, file: string | undefined, path: string, problems: string[]): string | undefined {
  if (value !== undefined && file !== undefined) problems.push(`${path}: at most one of the value and the _file may be set`);
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      problems.push(`${path}_file: reading ${file}: ${(err as Error).message}`);
      return undefined;
    }
  }
  return value;
}

function dur(v: string | undefined, fallback: number, path: string, problems: string[]): number {
  if (v === undefined) return fallback;
  try {
    return parseDuration(v);
  } catch {
    problems.push(`${path}: not a valid duration string: ${JSON.stringify(v)}`);
    return fallback;
  }
}

function readFileOpt(f: string | undefined, path: string, problems: string[]): Buffer | undefined {
  if (f === undefined) return undefined;
  try {
    return readFileSync(f);
  } catch (err) {
    problems.push(`${path}: reading ${f}: ${(err as Error).message}`);
    return undefined;
  }
}

export function httpSettings(
  c: RawHttpConfig | undefined,
  headers: Record<string, string> | undefined,
  timeout: string | undefined,
  path: string,
  problems: string[],
): HttpSettings {
  let authorization: string | undefined;
  const set = [c?.authorization, c?.bearer_token ?? c?.bearer_token_file, c?.basic_auth].filter((x) => x !== undefined);
  if (set.length > 1) problems.push(`${path}.http_config: at most one of basic_auth, bearer_token and authorization may be set`);
  if (c?.authorization) {
    const cred = readSecret(c.authorization.credentials, c.authorization.credentials_file, `${path}.http_config.authorization.credentials`, problems);
    authorization = `${c.authorization.type ?? 'Bearer'} ${cred ?? ''}`;
  } else if (c?.bearer_token !== undefined || c?.bearer_token_file !== undefined) {
    authorization = `Bearer ${readSecret(c.bearer_token, c.bearer_token_file, `${path}.http_config.bearer_token`, problems) ?? ''}`;
  } else if (c?.basic_auth) {
    const pw = readSecret(c.basic_auth.password, c.basic_auth.password_file, `${path}.http_config.basic_auth.password`, problems) ?? '';
    authorization = `Basic ${Buffer.from(`${c.basic_auth.username ?? ''}:${pw}`).toString('base64')}`;
  }
  for (const h of Object.keys(headers ?? {})) {
    if (/^(authorization|content-type|content-length|user-agent|host)$/i.test(h)) {
      problems.push(`${path}.headers: ${h} is set by kubepulse and may not be overridden`);
    }
  }
  const tlsc = c?.tls_config;
  return {
    authorization,
    headers: headers ?? {},
    tls: {
      ca: readFileOpt(tlsc?.ca_file, `${path}.http_config.tls_config.ca_file`, problems),
      cert: readFileOpt(tlsc?.cert_file, `${path}.http_config.tls_config.cert_file`, problems),
      key: readFileOpt(tlsc?.key_file, `${path}.http_config.tls_config.key_file`, problems),
      rejectUnauthorized: !(tlsc?.insecure_skip_verify ?? false),
      servername: tlsc?.server_name,
    },
    timeoutMs: dur(timeout, 10_000, `${path}.timeout`, problems),
  };
}

function matcherList(
  eq: Record<string, string> | undefined,
  re: Record<string, string> | undefined,
  strs: string[] | undefined,
  path: string,
  names: [string, string, string],
  problems: string[],
): AmMatcher[] {
  const out: AmMatcher[] = [];
  for (const [k, v] of Object.entries(eq ?? {})) out.push(newMatcher(k, '=', v));
  for (const [k, v] of Object.entries(re ?? {})) {
    try {
      out.push(newMatcher(k, '=~', v));
    } catch (err) {
      problems.push(`${path}.${names[1]}.${k}: ${(err as Error).message}`);
    }
  }
  (strs ?? []).forEach((s, i) => {
    try {
      out.push(...parseMatchers(s));
    } catch (err) {
      problems.push(`${path}.${names[2]}[${i}]: ${(err as Error).message}`);
    }
  });
  return sortMatchers(out);
}

function buildRoute(
  r: RawRoute,
  parent: { route?: Route; groupBy: readonly string[]; groupByAll: boolean; wait: number; interval: number; repeat: number; receiver: string },
  path: string,
  receivers: ReadonlySet<string>,
  problems: string[],
): Route {
  const isRoot = parent.route === undefined;
  const matchers = matcherList(r.match, r.match_re, r.matchers, path, ['match', 'match_re', 'matchers'], problems);
  if (isRoot && matchers.length) problems.push(`${path}: the root route must not have any matchers`);
  if (isRoot && r.continue) problems.push(`${path}: cannot have continue in root route`);
  const receiver = r.receiver ?? parent.receiver;
  if (isRoot && !receiver) problems.push(`${path}.receiver: the root route must specify a default receiver`);
  else if (receiver && !receivers.has(receiver)) problems.push(`${path}.receiver: undefined receiver "${receiver}" used in route`);
  let groupBy = parent.groupBy;
  let groupByAll = parent.groupByAll;
  if (r.group_by !== undefined) {
    groupByAll = r.group_by.includes('...');
    if (groupByAll && r.group_by.length > 1) problems.push(`${path}.group_by: cannot have wildcard group_by (\`...\`) and other labels at the same time`);
    groupBy = groupByAll ? [] : [...new Set(r.group_by)].sort();
    for (const l of groupBy) if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l)) problems.push(`${path}.group_by: invalid label name "${l}"`);
  }
  const wait = dur(r.group_wait, parent.wait, `${path}.group_wait`, problems);
  const interval = dur(r.group_interval, parent.interval, `${path}.group_interval`, problems);
  const repeat = dur(r.repeat_interval, parent.repeat, `${path}.repeat_interval`, problems);
  if (r.group_interval !== undefined && interval === 0) problems.push(`${path}.group_interval: cannot be zero`);
  if (r.repeat_interval !== undefined && repeat === 0) problems.push(`${path}.repeat_interval: cannot be zero`);
  const key = (parent.route ? parent.route.key + '/' : '') + matchersString(matchers);
  const self: Route = {
    receiver,
    groupBy,
    groupByAll,
    matchers,
    continue: r.continue ?? false,
    groupWaitMs: wait,
    groupIntervalMs: interval,
    repeatIntervalMs: repeat,
    routes: [],
    key,
  };
  const children = (r.routes ?? []).map((c, i) =>
    buildRoute(c, { route: self, groupBy, groupByAll, wait, interval, repeat, receiver }, `${path}.routes[${i}]`, receivers, problems),
  );
  (self as unknown as { routes: Route[] }).routes = children;
  return self;
}

/**
 * Checks and converts the raw `alerting:` section. Throws a `ConfigError` listing every
 * problem. `base` prefixes the paths in messages.
 */
export function buildAlertingConfig(raw: RawAlertingConfig, base = 'alerting'): AlertingConfig {
  const problems: string[] = [];
  const receivers = new Map<string, WebhookIntegration[]>();
  (raw.receivers ?? []).forEach((rc, i) => {
    const p = `${base}.receivers[${i}]`;
    if (!rc.name) problems.push(`${p}.name: missing name of receiver`);
    if (receivers.has(rc.name)) problems.push(`${p}.name: notification config name "${rc.name}" is not unique`);
    const ints = (rc.webhook_configs ?? []).map((w, j): WebhookIntegration => {
      const wp = `${p}.webhook_configs[${j}]`;
      try {
        const u = new URL(w.url);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push(`${wp}.url: scheme must be http or https: ${w.url}`);
      } catch {
        problems.push(`${wp}.url: invalid URL ${JSON.stringify(w.url)}`);
      }
      if (w.max_alerts !== undefined && (!Number.isInteger(w.max_alerts) || w.max_alerts < 0)) {
        problems.push(`${wp}.max_alerts: must be a non-negative integer, got ${JSON.stringify(w.max_alerts)}`);
      }
      let signature: WebhookIntegration['signature'];
      if (w.signature) {
        const secret = readSecret(w.signature.secret, w.signature.secret_file, `${wp}.signature.secret`, problems);
        if (!secret) problems.push(`${wp}.signature.secret: a signature needs a non-empty secret`);
        signature = { secret: secret ?? '', header: w.signature.header ?? DEFAULT_SIGNATURE_HEADER };
      }
      return {
        receiver: rc.name,
        index: j,
        url: w.url,
        sendResolved: w.send_resolved ?? true,
        maxAlerts: w.max_alerts ?? 0,
        http: httpSettings(w.http_config, w.headers, w.timeout, wp, problems),
        signature,
      };
    });
    receivers.set(rc.name, ints);
  });
  const rawRoute = raw.route ?? (receivers.size ? undefined : { receiver: '' });
  let route: Route;
  if (!rawRoute) {
    problems.push(`${base}.route: a route is required when receivers are configured`);
    route = emptyRoute();
  } else if (!raw.route && !receivers.size) {
    route = emptyRoute();
  } else {
    route = buildRoute(
      rawRoute,
      {
        groupBy: [],
        groupByAll: false,
        wait: parseDuration(ROUTE_DEFAULTS.group_wait),
        interval: parseDuration(ROUTE_DEFAULTS.group_interval),
        repeat: parseDuration(ROUTE_DEFAULTS.repeat_interval),
        receiver: '',
      },
      `${base}.route`,
      new Set(receivers.keys()),
      problems,
    );
  }
  const inhibitRules = (raw.inhibit_rules ?? []).map((ir, i): InhibitRule => {
    const p = `${base}.inhibit_rules[${i}]`;
    return {
      source: matcherList(ir.source_match, ir.source_match_re, ir.source_matchers, p, ['source_match', 'source_match_re', 'source_matchers'], problems),
      target: matcherList(ir.target_match, ir.target_match_re, ir.target_matchers, p, ['target_match', 'target_match_re', 'target_matchers'], problems),
      equal: ir.equal ?? [],
    };
  });
  const alertmanagers = (raw.alertmanagers ?? []).map((am, i) => {
    const a = typeof am === 'string' ? { url: am } : am;
    const p = `${base}.alertmanagers[${i}]`;
    try {
      new URL(a.url);
    } catch {
      problems.push(`${p}.url: invalid URL ${JSON.stringify(a.url)}`);
    }
    return { url: a.url.replace(/\/+$/, ''), http: httpSettings(a.http_config, undefined, a.timeout, p, problems) };
  });
  if (problems.length) throw new ConfigError(problems);
  return { route, receivers, inhibitRules, alertmanagers, externalURL: raw.external_url ?? '' };
}

function emptyRoute(): Route {
  return {
    receiver: '',
    groupBy: [],
    groupByAll: false,
    matchers: [],
    continue: false,
    groupWaitMs: 30_000,
    groupIntervalMs: 300_000,
    repeatIntervalMs: 4 * 3_600_000,
    routes: [],
    key: '{}',
  };
}

/**
 * Routes an alert's labels: Alertmanager's `Route.Match`, depth first; a matching child
 * stops the search unless it has `continue`; the node itself matches when no child does.
 */
export function matchRoutes(r: Route, labels: Readonly<Record<string, string>>, matchesAll: (ms: readonly AmMatcher[], l: Readonly<Record<string, string>>) => boolean): Route[] {
  if (!matchesAll(r.matchers, labels)) return [];
  const all: Route[] = [];
  for (const c of r.routes) {
    const m = matchRoutes(c, labels, matchesAll);
    all.push(...m);
    if (m.length && !c.continue) break;
  }
  if (!all.length) all.push(r);
  return all;
}
