import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrations as defaultMigrations, type Migration } from './migrations.js';

export type SqliteDatabase = Database.Database;

export class StoreVersionError extends Error {
  constructor(
    readonly fileVersion: number,
    readonly knownVersion: number,
  ) {
    super(
      `The database file is at schema version ${fileVersion}, newer than this master knows (${knownVersion}): ` +
        'run the newer master, or restore a backup made before the upgrade.',
    );
    this.name = 'StoreVersionError';
  }
}

/**
 * Opens (creating if needed) `<dataDir>/tunnelfleet.db` in WAL mode and brings its schema up to date.
 * WAL lets the API read while the reconciler writes; `synchronous = NORMAL` is crash-safe under WAL.
 */
export function openDatabase(
  dataDir: string,
  options: { migrations?: readonly Migration[] } = {},
): SqliteDatabase {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, 'tunnelfleet.db');
  const db = new Database(file);
  // Key and token hashes, the audit log and ownership records are for the master's eyes only;
  // SQLite gives its -wal and -shm files the same mode.
  chmodSync(file, 0o600);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  applyMigrations(db, options.migrations ?? defaultMigrations);
  return db;
}

export function applyMigrations(db: SqliteDatabase, migrations: readonly Migration[]): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  if (current > latest) throw new StoreVersionError(current, latest);
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
  return latest;
}
