import { ADMIN_API_PREFIX, errorBodySchema } from '@tunnelfleet/common';
import type { z } from 'zod';
import { ApiError, UnreachableError } from './cli-errors.js';

export interface AdminClient {
  /**
   * JSON request to `/api/v1/admin<path>`; resolves with the body parsed by `response`, the admin
   * API's response schema from `@tunnelfleet/common` (a body that does not match is an error).
   */
  request<S extends z.ZodType>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    response: S,
    body?: unknown,
  ): Promise<z.output<S>>;
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
    async request(method, path, responseSchema, body) {
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
        const answer = responseSchema.safeParse(parsed);
        if (!answer.success)
          throw new ApiError(
            response.status,
            'bad_response',
            `${base} answered ${method} ${ADMIN_API_PREFIX}${path} with an unexpected body (${answer.error.issues
              .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`)
              .join('; ')}); is the CLI the master's version?`,
          );
        return answer.data;
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
