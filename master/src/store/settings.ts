import type { SqliteDatabase } from './database.js';
import { statement } from './statements.js';

/** Names of the rows in `settings`. */
export const SETTING_KEYS = {
  /** SHA-256 (hex) of the admin token; the token itself is never stored. */
  adminTokenHash: 'admin_token_hash',
  /** JSON summary of the last full reconcile (when, how many targets, which failed). */
  lastReconcile: 'last_reconcile',
} as const;

export function getSetting(db: SqliteDatabase, key: string): string | undefined {
  const row = statement(db, 'SELECT value FROM settings WHERE key = ?').get(key) as
    | { value: string }
    | undefined;
  return row?.value;
}

export function setSetting(db: SqliteDatabase, key: string, value: string): void {
  statement(
    db,
    'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
  ).run(key, value);
}
