/**
 * The Prometheus HTTP API's JSON envelope and error types (web/api/v1/api.go), shared by
 * every `/api/v1/*` plugin so Grafana and promtool read our answers as Prometheus's.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

export const ApiErrorType = {
  BAD_DATA: 'bad_data',
  EXECUTION: 'execution',
  TIMEOUT: 'timeout',
  CANCELED: 'canceled',
  INTERNAL: 'internal',
  NOT_FOUND: 'not_found',
  UNAVAILABLE: 'unavailable',
} as const;
export type ApiErrorType = (typeof ApiErrorType)[keyof typeof ApiErrorType];

const STATUS: Record<ApiErrorType, number> = {
  bad_data: 400,
  execution: 422,
  timeout: 503,
  canceled: 503,
  internal: 500,
  not_found: 404,
  unavailable: 503,
};

/** An error a handler throws to answer with the Prometheus error envelope. */
export class ApiError extends Error {
  readonly errorType: ApiErrorType;
  readonly statusCode: number;
  constructor(errorType: ApiErrorType, message: string, options?: ErrorOptions) {
    super(message, options);
    this.errorType = errorType;
    this.statusCode = STATUS[errorType];
  }
}

export interface ApiSuccess<T> {
  status: 'success';
  data: T;
  warnings?: string[];
  infos?: string[];
}

export function success<T>(data: T, warnings?: string[]): ApiSuccess<T> {
  return warnings && warnings.length ? { status: 'success', data, warnings } : { status: 'success', data };
}

/**
 * Error handler for API plugins: ApiError keeps its type; fastify's own client errors
 * (bad JSON, body too large, …) become `bad_data`; anything else is `internal` and logged.
 */
export function apiErrorHandler(err: FastifyError | ApiError | Error, req: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof ApiError) {
    void reply.code(err.statusCode).send({ status: 'error', errorType: err.errorType, error: err.message });
    return;
  }
  const sc = (err as FastifyError).statusCode;
  if (sc !== undefined && sc >= 400 && sc < 500) {
    void reply.code(sc).send({ status: 'error', errorType: 'bad_data', error: err.message });
    return;
  }
  req.log.error({ err }, 'API handler failed');
  void reply.code(500).send({ status: 'error', errorType: 'internal', error: err.message });
}
