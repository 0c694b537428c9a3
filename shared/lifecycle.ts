/**
 * Lifecycle of long-running components, wired by each program's `main.ts`: started in
 * order, stopped in reverse.
 */

export interface Service {
  /** Starts the component; resolves once it is ready to do its work. */
  start(): Promise<void>;
  /**
   * Stops the component and releases what it holds. Idempotent; resolves when done or
   * when `timeoutMs` has passed, whichever is first.
   */
  stop(timeoutMs?: number): Promise<void>;
}

/** Resolves after `ms`, or at once when `signal` aborts. The timer never holds the process open. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    t.unref();
    function done() {
      signal?.removeEventListener('abort', done);
      clearTimeout(t);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Exponential backoff with full jitter: a delay in [0, min(maxMs, baseMs·2^attempt)). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  // Half fixed, half jittered: never retries at once, never synchronises agents.
  return cap / 2 + random() * (cap / 2);
}

/**
 * Stops the program on SIGINT/SIGTERM through `stop`, then exits 0 (1 when stopping
 * fails); a second signal exits at once. For each program's `main`.
 */
export function exitOnSignals(stop: () => Promise<void>, log: { info(o: object, m: string): void; error(o: object, m: string): void }): void {
  let signals = 0;
  const onSignal = (signal: string) => {
    if (++signals > 1) process.exit(1);
    log.info({ signal }, 'Stopping');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'Stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
