import { TunnelfleetError } from '@tunnelfleet/common';
import { APIConnectionError, APIError } from 'cloudflare';

/** Base of the Cloudflare layer's errors; `code` values start with `cf_`. */
export class CloudflareLayerError extends TunnelfleetError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options?.cause === undefined ? {} : { cause: options.cause });
  }
}

export class ZoneNotFoundError extends CloudflareLayerError {
  constructor(
    readonly hostname: string,
    readonly tokenName: string,
    detail: string,
  ) {
    super('cf_zone_not_found', `no zone for hostname "${hostname}" with token "${tokenName}": ${detail}`);
  }
}

export class InvalidCredentialsConfigError extends CloudflareLayerError {
  constructor(message: string) {
    super('cf_invalid_credentials_config', message);
  }
}

/** A call Cloudflare refused with 401/403: the token lacks a scope. */
export class CloudflarePermissionError extends CloudflareLayerError {
  constructor(
    readonly tokenName: string,
    readonly operation: string,
    readonly status: number,
    cause: unknown,
  ) {
    super(
      'cf_permission_denied',
      `token "${tokenName}" may not ${operation} (HTTP ${status}): ${describeCause(cause)}`,
      { cause },
    );
  }
}

/** Any other failed Cloudflare call, after retries. */
export class CloudflareApiError extends CloudflareLayerError {
  constructor(
    readonly operation: string,
    readonly status: number | undefined,
    cause: unknown,
  ) {
    super(
      'cf_api_error',
      `${operation} failed${status ? ` (HTTP ${status})` : ''}: ${describeCause(cause)}`,
      {
        cause,
      },
    );
  }
}

export class IngressRuleLimitError extends CloudflareLayerError {
  constructor(
    readonly tunnelId: string,
    readonly ruleCount: number,
    readonly limit: number,
  ) {
    super(
      'cf_ingress_rule_limit',
      `tunnel ${tunnelId} would hold ${ruleCount} ingress rules, more than the ${limit} Cloudflare accepts; nothing was written`,
    );
  }
}

/** The account has no Access organization (team domain): no app can be built or checked at the origin. */
export class AccessOrganizationMissingError extends CloudflareLayerError {
  constructor(readonly authDomain: string) {
    super(
      'cf_access_organization_missing',
      `the account's Access organization has no team domain (auth_domain "${authDomain}"): set up Zero Trust first`,
    );
  }
}

export class TunnelNotFoundError extends CloudflareLayerError {
  constructor(readonly tunnelId: string) {
    super('cf_tunnel_not_found', `tunnel ${tunnelId} does not exist`);
  }
}

function describeCause(cause: unknown): string {
  if (cause instanceof APIError && cause.errors.length > 0) {
    return cause.errors.map((e) => `${e.code ?? ''} ${e.message}`.trim()).join('; ');
  }
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * Wraps an SDK error into the layer's typed errors, so callers never see SDK classes.
 * Errors already typed by the layer pass through untouched.
 */
export function toLayerError(err: unknown, tokenName: string, operation: string): Error {
  if (err instanceof CloudflareLayerError) return err;
  if (err instanceof APIError && (err.status === 401 || err.status === 403)) {
    return new CloudflarePermissionError(tokenName, operation, err.status, err);
  }
  if (err instanceof APIConnectionError) return new CloudflareApiError(operation, undefined, err);
  if (err instanceof APIError) return new CloudflareApiError(operation, err.status, err);
  return err instanceof Error ? err : new CloudflareApiError(operation, undefined, err);
}

/** Status of an SDK error, if it carries one. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof APIError && typeof err.status === 'number' ? err.status : undefined;
}
