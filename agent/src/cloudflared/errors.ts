import { TunnelfleetError } from '@tunnelfleet/common';

/** The cloudflared image is not on the host and could not be pulled. */
export class CloudflaredImageUnavailableError extends TunnelfleetError {
  constructor(image: string, cause: unknown) {
    super(
      'cloudflared_image_unavailable',
      `cloudflared image ${image} is not present and cannot be pulled: ${reason(cause)}`,
      {
        details: { image },
        httpStatus: 503,
        cause,
      },
    );
  }
}

function reason(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** A tunnel token that cloudflared would refuse; `what` says what is wrong, never the token. */
export class CloudflaredTokenMalformedError extends TunnelfleetError {
  constructor(what: string) {
    super('tunnel_token_malformed', `the tunnel token is malformed: ${what}`, { httpStatus: 422 });
  }
}
