import type { SqliteDatabase } from '../store/database.js';
import { getSetting, setSetting } from '../store/settings.js';
import { parseJsonColumn } from '../store/statements.js';

/**
 * The fail-closed gate between the Access sync and the tunnel and zone syncs. A route that asks
 * for Access is carried (ingress rule, CNAME) only while its domain is in here: the Access sync
 * writes a domain once Cloudflare confirmed its app with every policy linked, and takes it out as
 * soon as the app cannot be put in place as the labels ask. Kept in SQLite so that a restarted
 * master publishes nothing before its first Access sync has confirmed the apps again.
 */
export interface AccessGuards {
  /** The account's Access team name (`<team>.cloudflareaccess.com`), for `originRequest.access`. */
  teamName: string | null;
  /** Audience tag of the app guarding each domain (`hostname` or `hostname/path`). */
  apps: Record<string, string>;
}

const KEY = 'reconciler.access.guards';

export function readAccessGuards(db: SqliteDatabase): AccessGuards {
  const raw = getSetting(db, KEY);
  const stored = raw === undefined ? {} : parseJsonColumn<Partial<AccessGuards>>(raw, {});
  return { teamName: stored.teamName ?? null, apps: stored.apps ?? {} };
}

export function writeAccessGuards(db: SqliteDatabase, guards: AccessGuards): void {
  setSetting(db, KEY, JSON.stringify(guards));
}
