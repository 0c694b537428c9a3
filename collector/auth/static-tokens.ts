/**
 * Static bearer tokens from a YAML (or JSON) file, for collectors outside a cluster:
 *
 * ```yaml
 * tokens:
 *   - token: 3f1c…            # at least 16 characters
 *     identity: agent-node-a
 *     roles: [push]
 *   - token_sha256: 9b7e…     # or the hex SHA-256 of the token, so the file holds no secret
 *     identity: grafana
 *     roles: [read]
 * ```
 *
 * The file is re-read when its modification time changes (checked at most once a
 * second), so tokens rotate without a restart; a broken new version is logged and the
 * old tokens kept.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { parse } from 'yaml';
import type { Logger } from '../../shared/index.js';
import { errorMessage, noopLogger } from '../../shared/index.js';
import type { Authenticator, Identity, Role } from './identity.js';

const ROLES: readonly string[] = ['push', 'read'];

/** Parses a token file's text; throws an Error listing every problem. */
export function parseStaticTokens(text: string, source = 'tokens file'): Map<string, Identity> {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new Error(`${source}: not YAML: ${errorMessage(err)}`);
  }
  const list = (doc as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(list)) throw new Error(`${source}: expected a top-level "tokens:" list`);
  const out = new Map<string, Identity>();
  const problems: string[] = [];
  list.forEach((e: unknown, i) => {
    const at = `${source}: tokens[${i}]`;
    if (typeof e !== 'object' || e === null) return problems.push(`${at}: expected a mapping`);
    const { token, token_sha256: hash, identity, roles } = e as Record<string, unknown>;
    let key: string;
    if (typeof token === 'string') {
      if (token.length < 16) return problems.push(`${at}.token: expected at least 16 characters`);
      key = sha256(token);
    } else if (typeof hash === 'string' && /^[0-9a-f]{64}$/i.test(hash)) {
      key = hash.toLowerCase();
    } else {
      return problems.push(`${at}: expected "token" (a string) or "token_sha256" (64 hex digits)`);
    }
    if (typeof identity !== 'string' || identity === '') return problems.push(`${at}.identity: expected a non-empty string`);
    if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r) => ROLES.includes(r as string))) {
      return problems.push(`${at}.roles: expected a non-empty list of ${ROLES.join(', ')}`);
    }
    if (out.has(key)) return problems.push(`${at}: the same token appears twice`);
    out.set(key, { name: identity, groups: [], roles: new Set(roles as Role[]), via: 'static' });
  });
  if (problems.length) throw new Error(problems.join('; '));
  return out;
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export interface StaticTokenOptions {
  file: string;
  logger?: Logger;
}

/**
 * Tokens are looked up by their SHA-256, so the comparison leaks no timing about the
 * stored tokens and the map holds no plain secrets.
 */
export class StaticTokenAuthenticator implements Authenticator {
  private tokens: Map<string, Identity>;
  private mtimeMs: number;
  private checkedAt = 0;
  private readonly log: Logger;

  /** Throws when the file cannot be read or is invalid: a bad file must stop the start. */
  constructor(private readonly opts: StaticTokenOptions) {
    this.log = (opts.logger ?? noopLogger()).child({ component: 'auth' });
    this.mtimeMs = statSync(opts.file).mtimeMs;
    this.tokens = parseStaticTokens(readFileSync(opts.file, 'utf8'), opts.file);
  }

  get size(): number {
    return this.tokens.size;
  }

  private maybeReload(): void {
    const now = Date.now();
    if (now - this.checkedAt < 1000) return;
    this.checkedAt = now;
    try {
      const m = statSync(this.opts.file).mtimeMs;
      if (m === this.mtimeMs) return;
      // Set first: a broken version is reported once, not every second.
      this.mtimeMs = m;
      this.tokens = parseStaticTokens(readFileSync(this.opts.file, 'utf8'), this.opts.file);
      this.log.info({ file: this.opts.file, tokens: this.tokens.size }, 'Reloaded static tokens');
    } catch (err) {
      this.log.error({ file: this.opts.file, err: errorMessage(err) }, 'Could not reload static tokens; keeping the previous ones');
    }
  }

  authenticate(token: string): Promise<Identity | undefined> {
    this.maybeReload();
    return Promise.resolve(this.tokens.get(sha256(token)));
  }
}
