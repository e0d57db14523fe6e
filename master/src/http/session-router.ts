import {
  AuthenticationError,
  CSRF_HEADER,
  ForbiddenError,
  loginRequestSchema,
  parseOrThrow,
  SESSION_PATH,
  type SessionResponse,
} from '@tunnelfleet/common';
import { type Response, Router } from 'express';
import type { DashboardSession, SessionService } from '../sessions/session-service.js';
import { clientAddress, refusal } from './authentication.js';
import type { FailedAuthLimiter } from './failed-auth-limiter.js';
import { jsonBody } from './json-body.js';
import { clearSessionCookie, readSessionCookie, setSessionCookie } from './session-cookie.js';

function sendSession(res: Response, status: number, session: DashboardSession): void {
  res.status(status).json({ session } satisfies SessionResponse);
}

/**
 * `/api/v1/session`: sign in (a failed one counts against the same limit as the API's failed
 * authentications), who is signed in (with the CSRF token), sign out (itself a change: it needs
 * the CSRF token, so another site cannot sign a user out).
 */
export function sessionRouter(deps: { sessions: SessionService; limiter: FailedAuthLimiter }): Router {
  const router = Router();

  router.post(SESSION_PATH, jsonBody(), (req, res) => {
    const { token } = parseOrThrow(loginRequestSchema, req.body, 'sign-in body');
    const signedIn = deps.sessions.signIn(token, clientAddress(req));
    if (!signedIn) throw refusal(deps.limiter, { address: clientAddress(req) });
    setSessionCookie(req, res, signedIn.cookie, signedIn.session.expiresAt);
    sendSession(res, 201, signedIn.session);
  });

  router.get(SESSION_PATH, (req, res) => {
    const cookie = readSessionCookie(req);
    const session = cookie === undefined ? undefined : deps.sessions.authenticate(cookie);
    if (!session) throw new AuthenticationError('not signed in, or the session expired');
    res.set('cache-control', 'no-store');
    sendSession(res, 200, session);
  });

  router.delete(SESSION_PATH, (req, res) => {
    const cookie = readSessionCookie(req);
    const session = cookie === undefined ? undefined : deps.sessions.authenticate(cookie);
    if (cookie !== undefined && session) {
      if (req.get(CSRF_HEADER) !== session.csrfToken) {
        throw new ForbiddenError(`signing out needs the session's CSRF token in ${CSRF_HEADER}`);
      }
      deps.sessions.signOut(cookie, clientAddress(req));
    }
    clearSessionCookie(req, res);
    res.status(204).end();
  });

  return router;
}
