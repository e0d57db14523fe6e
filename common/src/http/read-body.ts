import type { IncomingMessage } from 'node:http';
import { TunnelfleetError } from '../errors/tunnelfleet-error.js';

/** A request body over the server's limit: refused before the rest of it is read. */
export class BodyTooLargeError extends TunnelfleetError {
  constructor(maxBytes: number) {
    super('body_too_large', `the body is over ${maxBytes} bytes`, { details: { maxBytes }, httpStatus: 413 });
  }
}

/**
 * A request's body as UTF-8, for the plain `node:http` servers (the gateway's API, the Cloudflare
 * emulator). Counts bytes as they arrive, so an endless or huge body costs at most `maxBytes`.
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new BodyTooLargeError(maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
