/**
 * The `auth:` and `tls:` sections of the collector configuration: types, defaults and
 * the JSON-Schema fragments `collector/config.ts` merges into its schema, and the
 * factory that turns them into authenticators.
 */
import type { Logger } from '../../shared/index.js';
import { parseDuration } from '../../shared/index.js';
import type { Authenticator } from './identity.js';
import { StaticTokenAuthenticator } from './static-tokens.js';
import { IN_CLUSTER_CA_FILE, IN_CLUSTER_TOKEN_FILE, TokenReviewAuthenticator } from './token-review.js';

export interface AuthConfig {
  /** YAML file of static tokens; '' = none. */
  static_tokens_file: string;
  kubernetes: {
    /** Check tokens with the TokenReview API. */
    enabled: boolean;
    /** API server URL; '' = in-cluster (KUBERNETES_SERVICE_HOST). */
    api_url: string;
    token_file: string;
    ca_file: string;
    audiences: string[];
    /** Who may push; the agent's ServiceAccount by default. */
    push_identities: string[];
    /** Who may read (users, service accounts or groups); `*` = any authenticated. */
    read_identities: string[];
    cache_ttl: string;
  };
  /** Serve `/metrics` without a token. */
  open_metrics: boolean;
}

export interface TlsConfig {
  /** PEM certificate chain; '' (with key_file '') = plain HTTP. */
  cert_file: string;
  key_file: string;
  /** How often the files are checked for a rotation. */
  reload_interval: string;
}

export const DEFAULT_AUTH_CONFIG: AuthConfig = {
  static_tokens_file: '',
  kubernetes: {
    enabled: false,
    api_url: '',
    token_file: IN_CLUSTER_TOKEN_FILE,
    ca_file: IN_CLUSTER_CA_FILE,
    audiences: [],
    push_identities: ['system:serviceaccount:kubepulse:kubepulse-agent'],
    read_identities: [],
    cache_ttl: '1m',
  },
  open_metrics: true,
};

export const DEFAULT_TLS_CONFIG: TlsConfig = { cert_file: '', key_file: '', reload_interval: '10s' };

const duration = { type: 'string', format: 'duration' };
const strings = { type: 'array', items: { type: 'string', minLength: 1 } };

/** JSON-Schema fragment for `auth:`. */
export const AUTH_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    static_tokens_file: { type: 'string' },
    kubernetes: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        api_url: { anyOf: [{ const: '' }, { type: 'string', format: 'url' }] },
        token_file: { type: 'string' },
        ca_file: { type: 'string' },
        audiences: strings,
        push_identities: strings,
        read_identities: strings,
        cache_ttl: duration,
      },
    },
    open_metrics: { type: 'boolean' },
  },
};

/** JSON-Schema fragment for `tls:`. */
export const TLS_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    cert_file: { type: 'string' },
    key_file: { type: 'string' },
    reload_interval: duration,
  },
};

/** Cross-field problems, in the config loader's wording. */
export function checkAuthConfig(auth: AuthConfig, tls: TlsConfig): string[] {
  const problems: string[] = [];
  if ((tls.cert_file === '') !== (tls.key_file === '')) {
    problems.push(`key "tls.cert_file": value ${JSON.stringify(tls.cert_file)} is invalid: tls.cert_file and tls.key_file must be set together`);
  }
  if (auth.kubernetes.enabled && auth.kubernetes.push_identities.length === 0) {
    problems.push('key "auth.kubernetes.push_identities": value [] is invalid: expected at least one identity that may push');
  }
  return problems;
}

/** Whether any authentication is configured (else: loopback only). */
export function authConfigured(auth: AuthConfig): boolean {
  return auth.static_tokens_file !== '' || auth.kubernetes.enabled;
}

/** Builds the authenticators; static tokens are tried first. Throws on a bad token file. */
export function createAuthenticators(auth: AuthConfig, logger?: Logger): Authenticator[] {
  const out: Authenticator[] = [];
  if (auth.static_tokens_file) out.push(new StaticTokenAuthenticator({ file: auth.static_tokens_file, logger }));
  if (auth.kubernetes.enabled) {
    const k = auth.kubernetes;
    out.push(
      new TokenReviewAuthenticator({
        apiUrl: k.api_url || undefined,
        tokenFile: k.token_file,
        caFile: k.ca_file,
        audiences: k.audiences,
        pushIdentities: k.push_identities,
        readIdentities: k.read_identities,
        cacheTtlMs: parseDuration(k.cache_ttl),
        logger,
      }),
    );
  }
  return out;
}
