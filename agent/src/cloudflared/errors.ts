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
