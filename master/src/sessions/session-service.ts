import { createHash, randomBytes } from 'node:crypto';
import { parseViewerToken, type SessionRole } from '@tunnelfleet/common';
import { adminTokenMatches } from '../keys/admin-token.js';
import { hashSecret, secretMatchesHash } from '../keys/secret-hash.js';
import { type AuditActor, recordAudit } from '../store/audit-log.js';
import {
  type DashboardSessionRecord,
  deleteDashboardSession,
  deleteExpiredDashboardSessions,
  findDashboardSession,
  insertDashboardSession,
} from '../store/dashboard-sessions.js';
import type { SqliteDatabase } from '../store/database.js';
import { findViewerToken, touchViewerToken } from '../store/viewer-tokens.js';

/** A session as the HTTP layer sees it once its cookie checked out. */
export interface DashboardSession {
  role: SessionRole;
  /** Who the audit log names for what this session changes. */
  actor: AuditActor;
  /** `admin`, or the viewer token's name. */
  name: string;
  /** The token a change must carry in `X-CSRF-Token`: derived from the cookie, never stored. */
  csrfToken: string;
  expiresAt: string;
}

/** What signing in yields: the cookie value (shown to the browser only) and the session. */
export interface SignIn {
  cookie: string;
  session: DashboardSession;
}

export interface SessionService {
  /** The admin token or a live viewer token; `undefined` when it is neither (the caller limits failures). */
  signIn(token: string, address: string): SignIn | undefined;
  /** The session behind a cookie, or `undefined` when it is unknown, expired or its viewer token revoked. */
  authenticate(cookie: string): DashboardSession | undefined;
  signOut(cookie: string, address: string): void;
}

/**
 * Dashboard sign-in. A session is a 32-byte random cookie value; SQLite keeps its hash with the
 * role and expiry, so a copy of the database cannot be replayed as a cookie. The CSRF token is a
 * hash of the cookie under another label: the page can read it (`GET /api/v1/session`) while the
 * cookie stays httpOnly, and nothing more needs storing. Viewer sessions end with their token.
 */
export function createSessionService(deps: {
  db: SqliteDatabase;
  adminTokenHash: string;
  ttlSeconds: number;
  now?: () => number;
}): SessionService {
  const { db } = deps;
  const now = deps.now ?? Date.now;

  const csrfFor = (cookie: string) => createHash('sha256').update(`csrf:${cookie}`).digest('base64url');

  function view(record: DashboardSessionRecord, cookie: string): DashboardSession | undefined {
    if (record.role === 'admin') {
      return {
        role: 'admin',
        actor: `dashboard:admin:${record.ref}`,
        name: 'admin',
        csrfToken: csrfFor(cookie),
        expiresAt: record.expiresAt,
      };
    }
    const token = record.viewerTokenId === null ? undefined : findViewerToken(db, record.viewerTokenId);
    if (!token || token.revokedAt !== null) return undefined;
    return {
      role: 'viewer',
      actor: `dashboard:viewer:${token.id}:${record.ref}`,
      name: token.name,
      csrfToken: csrfFor(cookie),
      expiresAt: record.expiresAt,
    };
  }

  function open(role: SessionRole, viewerTokenId: string | null, address: string): SignIn {
    deleteExpiredDashboardSessions(db, new Date(now()).toISOString());
    const cookie = randomBytes(32).toString('base64url');
    const record: DashboardSessionRecord = {
      idHash: hashSecret(cookie),
      ref: randomBytes(4).toString('hex'),
      role,
      viewerTokenId,
      createdAt: new Date(now()).toISOString(),
      expiresAt: new Date(now() + deps.ttlSeconds * 1000).toISOString(),
    };
    insertDashboardSession(db, record);
    const session = view(record, cookie)!;
    recordAudit(db, {
      actor: session.actor,
      action: 'session.login',
      target: session.name,
      details: { role, address, expiresAt: record.expiresAt },
    });
    return { cookie, session };
  }

  return {
    signIn(token, address) {
      if (adminTokenMatches(token, deps.adminTokenHash)) return open('admin', null, address);
      const parts = parseViewerToken(token);
      const viewer = parts ? findViewerToken(db, parts.keyId) : undefined;
      if (
        !parts ||
        !viewer ||
        viewer.revokedAt !== null ||
        !secretMatchesHash(parts.secret, viewer.secretHash)
      ) {
        return undefined;
      }
      touchViewerToken(db, viewer.id);
      return open('viewer', viewer.id, address);
    },

    authenticate(cookie) {
      const record = findDashboardSession(db, hashSecret(cookie));
      if (!record) return undefined;
      if (Date.parse(record.expiresAt) <= now()) {
        deleteDashboardSession(db, record.idHash);
        return undefined;
      }
      return view(record, cookie);
    },

    signOut(cookie, address) {
      const session = this.authenticate(cookie);
      deleteDashboardSession(db, hashSecret(cookie));
      if (session) {
        recordAudit(db, {
          actor: session.actor,
          action: 'session.logout',
          target: session.name,
          details: { address },
        });
      }
    },
  };
}
