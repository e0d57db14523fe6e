import { AuthenticationError, parseApiKey } from '@tunnelfleet/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { adminTokenMatches } from '../keys/admin-token.js';
import { findPresentedAgentKey } from '../keys/agent-key-issuer.js';
import { type AgentKeyRecord, touchAgentKey } from '../store/agent-keys.js';
import { type AgentRecord, findAgentByKey } from '../store/agents.js';
import type { SqliteDatabase } from '../store/database.js';
import type { FailedAuthLimiter, FailedAuthSubjects } from './failed-auth-limiter.js';

/** What agent authentication leaves on `res.locals` for the handlers. */
interface AgentCaller {
  key: AgentKeyRecord;
  /** Undefined until the key's first registration. */
  agent: AgentRecord | undefined;
}

function bearerToken(req: Request): string | undefined {
  const header = req.get('authorization');
  const match = header ? /^Bearer ([\x21-\x7e]{1,512})$/.exec(header) : null;
  return match?.[1];
}

function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/**
 * One message for every refusal (missing, malformed, unknown, wrong secret, revoked), so a caller
 * learns nothing about which keys exist.
 */
const REFUSED = 'missing, invalid or revoked credentials';

/** 401, or 429 once the caller's address or presented key has failed too often. */
function refusal(limiter: FailedAuthLimiter, subjects: FailedAuthSubjects): Error {
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
    touchAgentKey(db, key.id);
    res.locals.caller = { key, agent } satisfies AgentCaller;
    next();
  };
}

export function agentCaller(res: Response): AgentCaller {
  return res.locals.caller as AgentCaller;
}

/** Admin requests: `Authorization: Bearer <admin token>`, checked against its stored hash. */
export function adminAuthentication(adminTokenHash: string, limiter: FailedAuthLimiter): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    const presented = bearerToken(req);
    if (presented === undefined || !adminTokenMatches(presented, adminTokenHash)) {
      throw refusal(limiter, { address: clientAddress(req) });
    }
    next();
  };
}
