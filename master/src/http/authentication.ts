import { timingSafeEqual } from 'node:crypto';
import {
  AuthenticationError,
  CSRF_HEADER,
  ForbiddenError,
  parseApiKey,
  type SessionRole,
} from '@tunnelfleet/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { adminTokenMatches } from '../keys/admin-token.js';
import { findPresentedAgentKey } from '../keys/agent-key-issuer.js';
import type { SessionService } from '../sessions/session-service.js';
import { type AgentKeyRecord, findAgentKey, touchAgentKey } from '../store/agent-keys.js';
import { type AgentRecord, findAgentByKey } from '../store/agents.js';
import type { AuditActor } from '../store/audit-log.js';
import type { SqliteDatabase } from '../store/database.js';
import type { FailedAuthLimiter, FailedAuthSubjects } from './failed-auth-limiter.js';
import { readSessionCookie } from './session-cookie.js';

/** What agent authentication leaves on `res.locals` for the handlers. */
interface AgentCaller {
  keyId: string;
  /** Undefined until the key's first registration. */
  agent: AgentRecord | undefined;
}

function bearerToken(req: Request): string | undefined {
  const header = req.get('authorization');
  const match = header ? /^Bearer ([\x21-\x7e]{1,512})$/.exec(header) : null;
  return match?.[1];
}

export function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/**
 * One message for every refusal (missing, malformed, unknown, wrong secret, revoked), so a caller
 * learns nothing about which keys exist.
 */
const REFUSED = 'missing, invalid or revoked credentials';

/** 401, or 429 once the caller's address or presented key has failed too often. */
export function refusal(limiter: FailedAuthLimiter, subjects: FailedAuthSubjects): Error {
  return limiter.recordFailure(subjects) ?? new AuthenticationError(REFUSED);
}

/**
 * Agent requests: `Authorization: Bearer tfk_<id>_<secret>`. The key and its agent are read from
 * SQLite on every request, so a revocation is effective at the very next one.
 */
export function agentAuthentication(db: SqliteDatabase, limiter: FailedAuthLimiter): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const presented = bearerToken(req);
    const key = presented === undefined ? null : findPresentedAgentKey(db, presented);
    const agent = key ? findAgentByKey(db, key.id) : undefined;
    if (!key || key.revokedAt !== null || agent?.status === 'revoked') {
      const keyId = presented === undefined ? undefined : parseApiKey(presented)?.keyId;
      throw refusal(limiter, { address: clientAddress(req), ...(keyId ? { keyId } : {}) });
    }
    touchAgentKey(db, key);
    res.locals.caller = { keyId: key.id, agent } satisfies AgentCaller;
    next();
  };
}

export function agentCaller(res: Response): AgentCaller {
  return res.locals.caller as AgentCaller;
}

/**
 * The caller's whole key (its allowlist and policy), read when a handler needs it. Read again
 * after the body: a key revoked while its request was being read is refused, not used.
 */
export function agentCallerKey(db: SqliteDatabase, res: Response): AgentKeyRecord {
  const key = findAgentKey(db, agentCaller(res).keyId);
  if (!key || key.revokedAt !== null) throw new AuthenticationError(REFUSED);
  return key;
}

/** Who called the admin API: the admin token (CLI), or a dashboard session of either role. */
export interface AdminCaller {
  role: SessionRole;
  /** Who the audit log names for the changes of this request. */
  actor: AuditActor;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function sameToken(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface AdminAuthenticationDeps {
  adminTokenHash: string;
  limiter: FailedAuthLimiter;
  sessions: SessionService;
}

/**
 * Admin requests: `Authorization: Bearer <admin token>` (checked against its stored hash), or the
 * dashboard's session cookie. A bearer is never sent by a browser on its own, so it needs no CSRF
 * token; a cookie is, so a cookie request that changes anything must also carry the session's CSRF
 * token in `X-CSRF-Token` (403 otherwise), and a viewer's session may change nothing (403).
 */
export function adminAuthentication(deps: AdminAuthenticationDeps): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const presented = bearerToken(req);
    if (presented !== undefined) {
      if (!adminTokenMatches(presented, deps.adminTokenHash)) {
        throw refusal(deps.limiter, { address: clientAddress(req) });
      }
      res.locals.admin = { role: 'admin', actor: 'admin' } satisfies AdminCaller;
      return next();
    }
    const cookie = readSessionCookie(req);
    const session = cookie === undefined ? undefined : deps.sessions.authenticate(cookie);
    if (!session) throw refusal(deps.limiter, { address: clientAddress(req) });
    if (!SAFE_METHODS.has(req.method)) {
      if (!sameToken(req.get(CSRF_HEADER), session.csrfToken)) {
        throw new ForbiddenError(
          `a change from the dashboard needs the session's CSRF token in ${CSRF_HEADER}`,
        );
      }
      if (session.role !== 'admin')
        throw new ForbiddenError('a viewer session can read but not change anything');
    }
    res.locals.admin = { role: session.role, actor: session.actor } satisfies AdminCaller;
    next();
  };
}

/** The caller `adminAuthentication` let in. */
export function adminCaller(res: Response): AdminCaller {
  return res.locals.admin as AdminCaller;
}

/** Who to audit a change as. */
export function actorOf(res: Response): AuditActor {
  return adminCaller(res).actor;
}
