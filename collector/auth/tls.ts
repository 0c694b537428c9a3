/**
 * TLS for the collector's listener: the certificate and key are read at start (what
 * `main.ts` passes to fastify as `https`) and re-read when either file changes, so a
 * cert-manager rotation needs no restart. A half-written pair (key and certificate not
 * matching yet) is refused and retried at the next check; the old pair stays in use.
 */
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../../shared/index.js';
import { errorMessage, noopLogger } from '../../shared/index.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsKeyPair {
  key: Buffer;
  cert: Buffer;
}

/** Reads and checks a key pair; throws naming the file and the problem. */
export function loadTlsKeyPair(files: TlsFiles): TlsKeyPair {
  const read = (f: string, what: string) => {
    try {
      return readFileSync(f);
    } catch (err) {
      throw new Error(`reading the TLS ${what} ${f}: ${errorMessage(err)}`, { cause: err });
    }
  };
  const pair = { cert: read(files.certFile, 'certificate'), key: read(files.keyFile, 'key') };
  try {
    createSecureContext(pair);
  } catch (err) {
    throw new Error(`TLS certificate ${files.certFile} and key ${files.keyFile}: ${errorMessage(err)}`, { cause: err });
  }
  return pair;
}

/** What fastify's `https` option takes for these files; throws when they are unusable. */
export function httpsServerOptions(files: TlsFiles): TlsKeyPair {
  return loadTlsKeyPair(files);
}

/** What the reloader needs of the server (`app.server` of an https fastify). */
export interface SecureContextTarget {
  setSecureContext(options: TlsKeyPair): void;
}

export interface TlsReloaderOptions extends TlsFiles {
  server: SecureContextTarget;
  /** How often the files' modification times are checked, ms. Default 10 s. */
  intervalMs?: number;
  logger?: Logger;
}

/**
 * Polls the files and swaps the server's secure context when they change. Polling, not
 * `fs.watch`: Kubernetes updates mounted Secrets by swapping a symlink, which inotify
 * watches on the file miss. Returns a stop function.
 */
export function startTlsReloader(opts: TlsReloaderOptions): { stop(): void; check(): boolean } {
  const log = (opts.logger ?? noopLogger()).child({ component: 'tls' });
  const stamp = () => {
    try {
      return `${statSync(opts.certFile).mtimeMs}/${statSync(opts.keyFile).mtimeMs}`;
    } catch {
      return '';
    }
  };
  let last = stamp();
  const check = (): boolean => {
    const now = stamp();
    if (now === last || now === '') return false;
    try {
      opts.server.setSecureContext(loadTlsKeyPair(opts));
      last = now;
      log.info({ cert: opts.certFile }, 'Reloaded the TLS certificate');
      return true;
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'New TLS files not usable yet; keeping the current certificate');
      return false;
    }
  };
  const timer = setInterval(check, opts.intervalMs ?? 10_000);
  timer.unref();
  return { stop: () => clearInterval(timer), check };
}
