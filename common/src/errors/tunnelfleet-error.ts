export interface TunnelfleetErrorOptions {
  /** Extra structured context, safe to show to the caller (never secrets). */
  details?: Record<string, unknown>;
  /** HTTP status this error maps to when it reaches an HTTP boundary. */
  httpStatus?: number;
  cause?: unknown;
}

/**
 * Base of every error Tunnelfleet throws on purpose. `code` is a stable snake_case identifier that
 * clients may branch on; `message` is for humans.
 */
export class TunnelfleetError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  readonly httpStatus: number;

  constructor(code: string, message: string, options: TunnelfleetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details;
    this.httpStatus = options.httpStatus ?? 500;
  }
}
