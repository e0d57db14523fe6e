import { TunnelfleetError, type TunnelfleetErrorOptions } from './tunnelfleet-error.js';

type Options = Omit<TunnelfleetErrorOptions, 'httpStatus'>;

/** The named thing does not exist (or the caller may not know it exists). */
export class NotFoundError extends TunnelfleetError {
  constructor(message: string, options: Options = {}) {
    super('not_found', message, { ...options, httpStatus: 404 });
  }
}

/** The request contradicts current state (hostname claimed elsewhere, foreign DNS record…). */
export class ConflictError extends TunnelfleetError {
  constructor(message: string, options: Options = {}) {
    super('conflict', message, { ...options, httpStatus: 409 });
  }
}

/** No credentials, malformed ones, or revoked ones. Messages must not say which. */
export class AuthenticationError extends TunnelfleetError {
  constructor(message = 'authentication required', options: Options = {}) {
    super('unauthenticated', message, { ...options, httpStatus: 401 });
  }
}

/** Valid credentials that do not allow this action (another agent's command, a hostname off the allowlist). */
export class ForbiddenError extends TunnelfleetError {
  constructor(message: string, options: Options = {}) {
    super('forbidden', message, { ...options, httpStatus: 403 });
  }
}

/** Too many requests; `retryAfterSeconds` becomes the `Retry-After` header. */
export class RateLimitedError extends TunnelfleetError {
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, message = 'too many requests', options: Options = {}) {
    super('rate_limited', message, { ...options, httpStatus: 429 });
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

/**
 * The master is too loaded to take this request now (admission control): `retryAfterSeconds`
 * becomes the `Retry-After` header. Unlike other 5xx it is answered as it is, since the caller is
 * meant to act on it: come back later, nothing of the request was kept.
 */
export class MasterBusyError extends TunnelfleetError {
  readonly retryAfterSeconds: number;

  constructor(
    retryAfterSeconds: number,
    message = 'the master is busy: retry after Retry-After',
    options: Options = {},
  ) {
    super('master_busy', message, { ...options, httpStatus: 503 });
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}
