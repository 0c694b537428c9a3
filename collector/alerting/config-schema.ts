/**
 * The collector config keys of alerting, as a JSON-Schema fragment (draft-07, ajv strict)
 * and defaults, for `collector/config.ts` to merge into its schema:
 * `evaluation_interval`, `rule_files`, `external_labels`, `alerting` (Alertmanager's
 * `route`, `receivers`, `inhibit_rules`, plus `alertmanagers`, `external_url`, history and
 * outbox settings) and `default_rules` (switches). The schema checks shapes and formats;
 * `buildAlertingConfig` then checks what needs code (receiver names, regexes, …).
 */
import type { RawAlertingConfig } from '../notifier/config.js';
import { DEFAULT_RULE_NAMES } from '../rules/default-rules/index.js';

const duration = { type: 'string', format: 'duration' } as const;
const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const stringList = { type: 'array', items: { type: 'string' } } as const;

const secretFile = (what: string) => ({ type: 'string', description: `File holding the ${what}.` });

const httpConfig = {
  type: 'object',
  additionalProperties: false,
  description: 'HTTP client settings (Prometheus common http_config subset).',
  properties: {
    authorization: {
      type: 'object',
      additionalProperties: false,
      properties: { type: { type: 'string', description: 'Scheme, default Bearer.' }, credentials: { type: 'string' }, credentials_file: secretFile('credentials') },
    },
    bearer_token: { type: 'string' },
    bearer_token_file: secretFile('bearer token'),
    basic_auth: {
      type: 'object',
      additionalProperties: false,
      properties: { username: { type: 'string' }, password: { type: 'string' }, password_file: secretFile('password') },
    },
    tls_config: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ca_file: { type: 'string' },
        cert_file: { type: 'string' },
        key_file: { type: 'string' },
        insecure_skip_verify: { type: 'boolean' },
        server_name: { type: 'string' },
      },
    },
  },
} as const;

const webhookConfig = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', format: 'url', description: 'Where the Alertmanager-format body is POSTed.' },
    send_resolved: { type: 'boolean', description: 'Notify about resolved alerts (default true).' },
    max_alerts: { type: 'integer', minimum: 0, description: 'Alerts per message; 0 = all (the rest counted in truncatedAlerts).' },
    http_config: httpConfig,
    timeout: { ...duration, description: 'Per-attempt timeout (default 10s).' },
    headers: { ...stringMap, description: 'Extra request headers.' },
    signature: {
      type: 'object',
      additionalProperties: false,
      description: 'HMAC-SHA256 of the body, sent as `sha256=<hex>` in the header.',
      properties: { secret: { type: 'string' }, secret_file: secretFile('secret'), header: { type: 'string', description: 'Default X-Kubepulse-Signature.' } },
    },
  },
} as const;

function routeSchema(depth: number): object {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      receiver: { type: 'string' },
      group_by: stringList,
      continue: { type: 'boolean' },
      match: stringMap,
      match_re: stringMap,
      matchers: stringList,
      group_wait: duration,
      group_interval: duration,
      repeat_interval: duration,
      // JSON Schema $refs would break once merged into another schema; nest a fixed depth.
      ...(depth > 0 ? { routes: { type: 'array', items: routeSchema(depth - 1) } } : {}),
    },
  };
}

const inhibitRule = {
  type: 'object',
  additionalProperties: false,
  properties: {
    source_match: stringMap,
    source_match_re: stringMap,
    source_matchers: stringList,
    target_match: stringMap,
    target_match_re: stringMap,
    target_matchers: stringList,
    equal: stringList,
  },
} as const;

/** `properties` entries to add to the collector config schema. */
export const ALERTING_CONFIG_PROPERTIES = {
  evaluation_interval: { ...duration, description: 'Default interval of rule groups.' },
  rule_files: { ...stringList, description: 'Prometheus rule files: paths, directories or globs, relative to the config file.' },
  external_labels: { ...stringMap, description: 'Labels added to every alert sent and available as $externalLabels.' },
  alerting: {
    type: 'object',
    additionalProperties: false,
    properties: {
      route: routeSchema(8),
      receivers: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: { type: 'string' }, webhook_configs: { type: 'array', items: webhookConfig } },
        },
      },
      inhibit_rules: { type: 'array', items: inhibitRule },
      alertmanagers: {
        type: 'array',
        description: 'Alertmanagers that receive every alert on POST /api/v2/alerts.',
        items: {
          anyOf: [
            { type: 'string', format: 'url' },
            {
              type: 'object',
              additionalProperties: false,
              required: ['url'],
              properties: { url: { type: 'string', format: 'url' }, timeout: duration, http_config: httpConfig },
            },
          ],
        },
      },
      external_url: { type: 'string', description: 'URL of the collector as users reach it: externalURL in bodies, base of generatorURL.' },
      history_retention: { ...duration, description: 'How long resolved alert episodes are kept.' },
      outbox_max_age: { ...duration, description: 'Undelivered notifications older than this are dropped.' },
      resend_delay: { ...duration, description: 'Minimum time between re-sends of a firing alert to Alertmanagers.' },
    },
  },
  default_rules: {
    type: 'object',
    additionalProperties: false,
    properties: {
      enabled: { type: 'boolean', description: 'All default rules on or off.' },
      rules: {
        type: 'object',
        additionalProperties: false,
        description: 'Per-rule switches by alert name.',
        properties: Object.fromEntries(DEFAULT_RULE_NAMES.map((n) => [n, { type: 'boolean' }])),
      },
    },
  },
} as const;

/** The config as typed after validation. */
export interface AlertingSectionConfig {
  evaluation_interval: string;
  rule_files: string[];
  external_labels: Record<string, string>;
  alerting: RawAlertingConfig & {
    history_retention?: string;
    outbox_max_age?: string;
    resend_delay?: string;
  };
  default_rules: { enabled?: boolean; rules?: Record<string, boolean> };
}

/** Defaults of the keys above (Prometheus's evaluation_interval is 1m). */
export const ALERTING_CONFIG_DEFAULTS: AlertingSectionConfig = {
  evaluation_interval: '1m',
  rule_files: [],
  external_labels: {},
  alerting: { history_retention: '30d', outbox_max_age: '24h', resend_delay: '1m' },
  default_rules: { enabled: true, rules: {} },
};
