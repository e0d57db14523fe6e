import { errorBodySchema } from '@tunnelfleet/common';
import { ApiError, UnreachableError } from './cli-errors.js';

/**
 * Same prefix as the master's admin router; not imported from it so the CLI loads no server code
 * (the CLI tests run against a real master and would catch a drift).
 */
const ADMIN_API_PREFIX = '/api/v1/admin';

export interface AdminClient {
  /** JSON request to `/api/v1/admin<path>`; resolves with the parsed body, `null` for 204. */
  request(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown>;
}

export interface AdminClientOptions {
  /** Base URL of the master, e.g. `https://tunnelfleet.example.com`. */
  url: URL;
  token: string;
  timeoutMs?: number;
}

/** The admin API over fetch; every failure becomes an `ApiError` or an `UnreachableError`. */
export function createAdminClient(options: AdminClientOptions): AdminClient {
  const base = options.url.href.replace(/\/+$/, '');
  return {
    async request(method, path, body) {
      let response: Response;
      try {
        response = await fetch(`${base}${ADMIN_API_PREFIX}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${options.token}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
        });
      } catch (error) {
        const reason =
          error instanceof Error
            ? ((error.cause as Error | undefined)?.message ?? error.message)
            : String(error);
        throw new UnreachableError(`cannot reach the master at ${base}: ${reason}`, error);
      }
      const text = await response.text();
      let parsed: unknown = null;
      if (text !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
      }
      if (response.ok) {
        if (parsed === undefined)
          throw new ApiError(
            response.status,
            'bad_response',
            `${base} answered ${method} ${ADMIN_API_PREFIX}${path} with non-JSON`,
          );
        return parsed;
      }
      const error = errorBodySchema.safeParse(parsed);
      if (error.success) throw new ApiError(response.status, error.data.error.code, error.data.error.message);
      throw new ApiError(
        response.status,
        'http_error',
        `${base} answered ${method} ${ADMIN_API_PREFIX}${path} with HTTP ${response.status} (is this a Tunnelfleet master?)`,
      );
    },
  };
}
