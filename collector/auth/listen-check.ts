/**
 * The collector must not serve an unauthenticated write endpoint to the network: with
 * no authentication configured it may listen on loopback only.
 */
import { isIP } from 'node:net';

/** Whether `host` (as given to `listen`) only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

/**
 * Returns the message to log (fatal) and exit with when `host` is not loopback and no
 * authentication is configured; undefined when the combination is allowed.
 */
export function checkListenSecurity(host: string, authConfigured: boolean): string | undefined {
  if (authConfigured || isLoopbackHost(host)) return undefined;
  const shown = host === '' ? 'all interfaces' : host;
  return (
    `refusing to listen on ${shown}: no authentication is configured, and the write ` +
    'endpoint would accept data from anyone. Set auth.static_tokens_file or ' +
    'auth.kubernetes.enabled, or listen on 127.0.0.1'
  );
}
