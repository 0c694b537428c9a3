/**
 * Typed errors with stable codes (the fastify `lib/errors.js` pattern): callers branch on
 * `code`, never on the message.
 */

export class KubepulseError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A configuration value or flag was refused; `problems` lists every one found. */
export class ConfigError extends KubepulseError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options?: ErrorOptions) {
    super('KP_ERR_CONFIG', `invalid configuration:\n  - ${problems.join('\n  - ')}`, options);
    this.problems = problems;
  }
}

/** Message of an unknown thrown value, for logs and HTTP bodies. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
