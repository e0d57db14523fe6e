import type { SessionRole } from '@tunnelfleet/common';
import type { SqliteDatabase } from './database.js';
import { statement } from './statements.js';

/** A signed-in dashboard browser. The cookie itself is never stored, only its hash. */
export interface DashboardSessionRecord {
  idHash: string;
  /** Public short id: the audit log names the session by it. */
  ref: string;
  role: SessionRole;
  /** The viewer token a viewer signed in with; null for the admin. */
  viewerTokenId: string | null;
  createdAt: string;
  expiresAt: string;
}

interface SessionRow {
  id_hash: string;
  ref: string;
  role: SessionRole;
  viewer_token_id: string | null;
  created_at: string;
  expires_at: string;
}

export function insertDashboardSession(db: SqliteDatabase, session: DashboardSessionRecord): void {
  statement(
    db,
    `INSERT INTO dashboard_sessions (id_hash, ref, role, viewer_token_id, created_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(
    session.idHash,
    session.ref,
    session.role,
    session.viewerTokenId,
    session.createdAt,
    session.expiresAt,
  );
}

export function findDashboardSession(db: SqliteDatabase, idHash: string): DashboardSessionRecord | undefined {
  const row = statement(db, 'SELECT * FROM dashboard_sessions WHERE id_hash = ?').get(idHash) as
    | SessionRow
    | undefined;
  return row
    ? {
        idHash: row.id_hash,
        ref: row.ref,
        role: row.role,
        viewerTokenId: row.viewer_token_id,
        createdAt: row.created_at,
        expiresAt: row.expires_at,
      }
    : undefined;
}

export function deleteDashboardSession(db: SqliteDatabase, idHash: string): void {
  statement(db, 'DELETE FROM dashboard_sessions WHERE id_hash = ?').run(idHash);
}

/** Ends every session a viewer token opened (the token was revoked). */
export function deleteViewerSessions(db: SqliteDatabase, viewerTokenId: string): void {
  statement(db, 'DELETE FROM dashboard_sessions WHERE viewer_token_id = ?').run(viewerTokenId);
}

export function deleteExpiredDashboardSessions(db: SqliteDatabase, now: string): void {
  statement(db, 'DELETE FROM dashboard_sessions WHERE expires_at <= ?').run(now);
}
