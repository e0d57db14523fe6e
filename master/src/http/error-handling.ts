import { NotFoundError, toHttpError } from '@tunnelfleet/common';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';

/** Unknown paths answer the same JSON error shape as everything else. */
export const notFound: RequestHandler = (req) => {
  throw new NotFoundError(`no such endpoint: ${req.method} ${req.path}`);
};

/**
 * Every error becomes `{ error: { code, message } }`. Bad JSON and too-large bodies keep
 * body-parser's message; anything unexpected is logged here and answered as an opaque 500.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const answer = toHttpError(error);
    // A 503 of admission control is load shedding, not a failure: logging each would add load.
    if (answer.status === 500)
      logger.error({ err: error, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(answer.status).set(answer.headers).json(answer.body);
  };
}
