import { ValidationError } from '@tunnelfleet/common';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';

/** Default body limit of the API; reports have their own, larger one. */
const DEFAULT_BODY_LIMIT_BYTES = 16 * 1024;

/**
 * JSON body parsing with a size limit. Mounted after authentication, so an anonymous caller can
 * never make the master read a large body. A POST without a JSON body is refused with a clear
 * message instead of reaching the schema as `undefined`.
 */
export function jsonBody(limitBytes = DEFAULT_BODY_LIMIT_BYTES): RequestHandler {
  const parse = express.json({ limit: limitBytes, strict: true, type: 'application/json' });
  return (req: Request, res: Response, next: NextFunction) => {
    parse(req, res, (error?: unknown) => {
      if (error) return next(error);
      if (req.body === undefined) {
        return next(
          new ValidationError('request body', [
            { path: '', reason: 'expected a JSON object with Content-Type: application/json' },
          ]),
        );
      }
      next();
    });
  };
}
