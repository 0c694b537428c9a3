/**
 * Who a request comes from, as established by the authenticators, and what it may do.
 */

/** `push`: `POST /api/v1/write`. `read`: every other API route. */
export const Role = {
  PUSH: 'push',
  READ: 'read',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface Identity {
  /** A user name: the static token's `identity`, or `system:serviceaccount:<ns>:<name>`. */
  readonly name: string;
  /** Kubernetes groups (TokenReview), empty for static tokens. */
  readonly groups: readonly string[];
  readonly roles: ReadonlySet<Role>;
  /** Which authenticator vouched for it. */
  readonly via: 'static' | 'kubernetes';
}

/**
 * Maps a bearer token to an identity. Resolves `undefined` for a token it does not know;
 * rejects with {@link AuthUnavailableError} when it cannot tell (e.g. the API server is
 * down), which the plugin answers with 503 so senders retry instead of giving up.
 */
export interface Authenticator {
  authenticate(token: string): Promise<Identity | undefined>;
  /** Releases connections; call at shutdown. */
  close?(): void;
}

export class AuthUnavailableError extends Error {
  readonly code = 'KP_ERR_AUTH_UNAVAILABLE';
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth plugin on authenticated requests; absent on open routes. */
    kubepulseIdentity?: Identity;
  }
}
