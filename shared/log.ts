/**
 * The root logger: plain JSON to stdout (pino's fastest path), one per program, created
 * in `main.ts`; components take `logger.child({ component })`.
 */
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export interface LoggerOptions {
  level?: LevelWithSilent;
  name?: string;
  /** Destination stream; stdout when absent. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', '*.token', '*.password', '*.bearer_token'],
        censor: '[REDACTED]',
      },
    },
    (opts.destination ?? process.stdout) as DestinationStream,
  );
}

/** A logger that discards everything; the fallback when a component gets none. */
export function noopLogger(): Logger {
  return pino({ level: 'silent' });
}
