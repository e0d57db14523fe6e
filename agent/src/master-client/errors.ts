import { TunnelfleetError } from '@tunnelfleet/common';

/** Base of every failure of a request to the master; `retryable` says whether trying again can help. */
export class MasterClientError extends TunnelfleetError {
  readonly retryable: boolean;

  constructor(
    code: string,
    message: string,
    options: { retryable: boolean; status?: number; cause?: unknown },
  ) {
    super(code, message, {
      ...(options.status === undefined ? {} : { details: { status: options.status } }),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.retryable = options.retryable;
  }
}

/** 401: the key is revoked or unknown. Only a new key helps. */
export class MasterAuthRejectedError extends MasterClientError {
  constructor(path: string) {
    super('master_auth_rejected', `the master rejected the API key (401 on ${path})`, {
      retryable: false,
      status: 401,
    });
  }
}

/** 403: the key is valid but may not do this (e.g. another agent's id). */
export class MasterForbiddenError extends MasterClientError {
  constructor(path: string, message: string) {
    super('master_forbidden', `the master refused ${path} (403): ${message}`, {
      retryable: false,
      status: 403,
    });
  }
}

/** Any other 4xx: the request itself is wrong; retrying it unchanged will not help (408 excepted). */
export class MasterRequestError extends MasterClientError {
  readonly status: number;

  constructor(path: string, status: number, message: string) {
    super('master_request_rejected', `the master rejected ${path} (${status}): ${message}`, {
      retryable: status === 408,
      status,
    });
    this.status = status;
  }
}

/**
 * 429: this agent sent more than the master accepts (its report rate limit). The master is fine;
 * nothing may be sent on that path before `retryAfterMs` has passed.
 */
export class MasterRateLimitedError extends MasterClientError {
  readonly retryAfterMs: number;

  constructor(path: string, retryAfterMs: number, message: string) {
    super(
      'master_rate_limited',
      `the master asks to slow down on ${path} (429, retry after ${retryAfterMs} ms): ${message}`,
      {
        retryable: true,
        status: 429,
      },
    );
    this.retryAfterMs = retryAfterMs;
  }
}

/** 5xx: the master is up but failing (Redis down, say); retry with backoff. */
export class MasterServerError extends MasterClientError {
  readonly status: number;

  constructor(path: string, status: number, message: string) {
    super('master_server_error', `the master failed on ${path} (${status}): ${message}`, {
      retryable: true,
      status,
    });
    this.status = status;
  }
}

/**
 * 503 with `Retry-After`: the master sheds load (a fleet enrolling at once). Retried, never given
 * up, and never before `retryAfterMs`; the backoff still grows while it keeps answering so.
 */
export class MasterBusyError extends MasterClientError {
  readonly retryAfterMs: number;

  constructor(path: string, retryAfterMs: number, message: string) {
    super('master_busy', `the master is busy on ${path} (503, retry after ${retryAfterMs} ms): ${message}`, {
      retryable: true,
      status: 503,
    });
    this.retryAfterMs = retryAfterMs;
  }
}

/** No HTTP answer at all: connection refused, DNS, TLS, timeout. */
export class MasterUnreachableError extends MasterClientError {
  constructor(path: string, cause: unknown) {
    super('master_unreachable', `the master is unreachable (${path}): ${describeCause(cause)}`, {
      retryable: true,
      cause,
    });
  }
}

/** A 2xx whose body does not match the protocol: a master of another version, or a proxy page. */
export class MasterReplyInvalidError extends MasterClientError {
  constructor(path: string, problem: string) {
    super('master_reply_invalid', `the master's reply to ${path} is not valid: ${problem}`, {
      retryable: true,
    });
  }
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  // fetch wraps the socket error: `TypeError: fetch failed` with the real reason as its cause.
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
  return `${cause.message}${inner}`;
}
