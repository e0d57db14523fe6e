import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from '@tunnelfleet/common';
import type { BackendPools } from './backend-pools.js';

/** Copies in flight at once, over all routes: a slow mirror makes copies dropped, not queued. */
const MAX_IN_FLIGHT = 64;
/** Body bytes buffered for one copy the mirror reads slower than the client sends; beyond, the copy is cut. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** A copy's whole lifetime: a mirror that never answers frees its slot. */
const COPY_TIMEOUT_MS = 30_000;

export interface RequestMirror {
  /**
   * Sends a copy of the request to `origin` and returns the body the real request must read
   * instead of `req` (a tee), or `req` itself when no copy is sent. The copy never slows the real
   * request: when the mirror reads slower, its copy is cut, never the client paused for it.
   * `dropped` is called when no copy is sent because too many are in flight.
   */
  send(
    req: IncomingMessage,
    copy: { origin: string; path: string; headers: Record<string, string | string[]>; hasBody: boolean },
    dropped: () => void,
  ): Readable | null;
}

export function createRequestMirror(options: { pools: BackendPools; logger: Logger }): RequestMirror {
  const logger = options.logger.child({ component: 'mirror' });
  let inFlight = 0;

  return {
    send(req, copy, dropped) {
      const body = copy.hasBody ? req : null;
      if (inFlight >= MAX_IN_FLIGHT) {
        dropped();
        return body;
      }
      inFlight += 1;
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), COPY_TIMEOUT_MS);
      timer.unref();
      let mirrorBody: PassThrough | null = null;
      let mainBody: Readable | null = body;
      if (copy.hasBody) {
        const main = new PassThrough();
        const side = new PassThrough();
        mirrorBody = side;
        mainBody = main;
        req.on('data', (chunk: Buffer) => {
          // The real request's backpressure pauses the client; the copy's never does.
          if (!main.write(chunk)) req.pause();
          if (side.destroyed) return;
          if (side.writableLength + chunk.length > MAX_BUFFERED_BYTES) side.destroy();
          else side.write(chunk);
        });
        main.on('drain', () => req.resume());
        req.once('end', () => {
          main.end();
          side.end();
        });
        req.once('error', (error) => {
          main.destroy(error);
          side.destroy();
        });
        // The client gone before the end: the real request is aborted by its own controller.
        req.once('close', () => {
          if (!req.complete) side.destroy();
        });
      }
      options.pools
        .get(copy.origin)
        .request({
          path: copy.path,
          method: req.method ?? 'GET',
          headers: copy.headers,
          body: mirrorBody,
          signal: abort.signal,
        })
        .then((response) => response.body.dump())
        .catch((error: unknown) => logger.debug({ err: error, mirror: copy.origin }, 'mirror copy failed'))
        .finally(() => {
          clearTimeout(timer);
          inFlight -= 1;
        });
      return mainBody;
    },
  };
}
