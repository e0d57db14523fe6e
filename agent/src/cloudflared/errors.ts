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

/** A container holds the managed container's name but does not carry our labels. */
export class CloudflaredNameTakenError extends TunnelfleetError {
  constructor(name: string) {
    super(
      'cloudflared_name_taken',
      `a container named ${name} exists but is not managed by this agent; remove or rename it`,
      { details: { name }, httpStatus: 409 },
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
