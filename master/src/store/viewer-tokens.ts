import type { SqliteDatabase } from './database.js';
import { isoNow, statement } from './statements.js';

/** A dashboard viewer token: signs in read-only. Only the secret's hash is kept. */
export interface ViewerTokenRecord {
  id: string;
  name: string;
  /** SHA-256 (hex) of the secret part of the token. */
  secretHash: string;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

interface ViewerTokenRow {
  id: string;
  name: string;
  secret_hash: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

function toRecord(row: ViewerTokenRow): ViewerTokenRecord {
  return {
    id: row.id,
    name: row.name,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

export function insertViewerToken(
  db: SqliteDatabase,
  token: Pick<ViewerTokenRecord, 'id' | 'name' | 'secretHash'>,
): ViewerTokenRecord {
  statement(db, 'INSERT INTO viewer_tokens (id, name, secret_hash, created_at) VALUES (?, ?, ?, ?)').run(
    token.id,
    token.name,
    token.secretHash,
    isoNow(),
  );
  return findViewerToken(db, token.id)!;
}

export function findViewerToken(db: SqliteDatabase, id: string): ViewerTokenRecord | undefined {
  const row = statement(db, 'SELECT * FROM viewer_tokens WHERE id = ?').get(id) as ViewerTokenRow | undefined;
  return row ? toRecord(row) : undefined;
}

export function listViewerTokens(db: SqliteDatabase): ViewerTokenRecord[] {
  return (statement(db, 'SELECT * FROM viewer_tokens ORDER BY created_at, id').all() as ViewerTokenRow[]).map(
    toRecord,
  );
}

export function revokeViewerToken(db: SqliteDatabase, id: string): void {
  statement(db, 'UPDATE viewer_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?').run(
    isoNow(),
    id,
  );
}

export function touchViewerToken(db: SqliteDatabase, id: string): void {
  statement(db, 'UPDATE viewer_tokens SET last_used_at = ? WHERE id = ?').run(isoNow(), id);
}
