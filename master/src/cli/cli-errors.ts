import { TunnelfleetError } from '@tunnelfleet/common';

/** Exit codes scripts can branch on. */
export const EXIT = {
  ok: 0,
  /** The master answered with an error (not found, conflict, validation, server error). */
  failed: 1,
  /** Bad command line or missing settings: nothing was sent. */
  usage: 2,
  /** The master could not be reached, or it refused the admin token. */
  unreachable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports on one line and turns into its exit code. */
export class CliError extends TunnelfleetError {
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, exitCode: ExitCode, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.exitCode = exitCode;
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super('usage', message, EXIT.usage);
  }
}

/** The master answered with `{ error: { code, message } }` and a non-2xx status. */
export class ApiError extends CliError {
  readonly status: number;

  constructor(status: number, code: string, message: string) {
    super(code, message, status === 401 || status === 403 ? EXIT.unreachable : EXIT.failed);
    this.status = status;
  }
}

export class UnreachableError extends CliError {
  constructor(message: string, cause: unknown) {
    super('unreachable', message, EXIT.unreachable, { cause });
  }
}
