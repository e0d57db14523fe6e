import { z } from 'zod';
import { MasterBusyError, RateLimitedError } from './request-errors.js';
import { TunnelfleetError } from './tunnelfleet-error.js';
import { ValidationError } from './validation-error.js';

/** Body of every HTTP error answer: `{ error: { code, message, details? } }`. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string().max(64),
    message: z.string().max(10_000),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
type ErrorBody = z.infer<typeof errorBodySchema>;

interface HttpErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: ErrorBody;
}

/** Errors thrown by HTTP middleware (body-parser, http-errors) that are meant for the client. */
interface ExposedHttpError {
  status: number;
  expose: true;
  message: string;
  type?: string;
}

function isExposedHttpError(error: unknown): error is ExposedHttpError {
  const candidate = error as Partial<ExposedHttpError> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    candidate.expose === true &&
    typeof candidate.status === 'number' &&
    candidate.status >= 400 &&
    candidate.status < 500
  );
}

/**
 * Maps any thrown value to the HTTP answer. Our own errors keep their code and message; middleware
 * 4xx errors keep their message (e.g. `request entity too large`); anything else becomes an opaque
 * 500 so internals never leak — log the original before calling this.
 */
export function toHttpError(error: unknown): HttpErrorResponse {
  if (error instanceof z.ZodError) return toHttpError(ValidationError.fromZod('input', error));
  if (error instanceof TunnelfleetError) {
    const status = error.httpStatus >= 400 && error.httpStatus < 600 ? error.httpStatus : 500;
    const retryAfter =
      error instanceof RateLimitedError || error instanceof MasterBusyError
        ? error.retryAfterSeconds
        : undefined;
    if (status >= 500 && !(error instanceof MasterBusyError)) return internal();
    const headers: Record<string, string> =
      retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) };
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.details !== undefined) body.error.details = error.details;
    return { status, headers, body };
  }
  if (isExposedHttpError(error)) {
    const code = (error.type ?? 'bad_request').replace(/[^a-z0-9]+/gi, '_').toLowerCase();
    return { status: error.status, headers: {}, body: { error: { code, message: error.message } } };
  }
  return internal();
}

function internal(): HttpErrorResponse {
  return { status: 500, headers: {}, body: { error: { code: 'internal', message: 'internal error' } } };
}
