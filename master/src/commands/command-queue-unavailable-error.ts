import { TunnelfleetError } from '@tunnelfleet/common';

/** Redis cannot be reached: nothing was queued, delivered or acknowledged; the caller may retry. */
export class CommandQueueUnavailableError extends TunnelfleetError {
  constructor(operation: string, cause: unknown) {
    super(
      'commands_unavailable',
      `command queue unavailable (Redis unreachable) during ${operation}; retry later`,
      {
        httpStatus: 503,
        cause,
      },
    );
  }
}
