import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

const cache = new WeakMap<SqliteDatabase, Map<string, Statement>>();

/**
 * The prepared statement for `sql` on `db`, compiled once per connection. Repositories are plain
 * functions over the db; this keeps them from re-parsing their SQL on every call.
 */
export function statement(db: SqliteDatabase, sql: string): Statement {
  let statements = cache.get(db);
  if (!statements) {
    statements = new Map();
    cache.set(db, statements);
  }
  let prepared = statements.get(sql);
  if (!prepared) {
    prepared = db.prepare(sql);
    statements.set(sql, prepared);
  }
  return prepared;
}

export function isoNow(): string {
  return new Date().toISOString();
}

/** JSON columns are written by us only, but a hand-edited row must not crash a listing. */
export function parseJsonColumn<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
