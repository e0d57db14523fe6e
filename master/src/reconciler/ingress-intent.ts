import type { IngressAdoption } from '../cloudflare/tunnel-ingress-sync.js';
import type { SqliteDatabase } from '../store/database.js';
import { getSetting, setSetting } from '../store/settings.js';
import { parseJsonColumn, statement } from '../store/statements.js';

/**
 * Crash safety of ingress ownership. A rule carries no mark of ours (unlike a DNS record's
 * comment), so the keys a sync is about to add are written down before the PUT and cleared with
 * the ownership recorded after it. Intent left over means the master died in between: the next
 * sync of that tunnel treats those keys, if still wanted, as ours rather than as foreign rules.
 * Keys a sync already found held by a foreign rule are never put in an intent, so a foreign rule
 * is only ever taken for ours if it appeared on a brand-new key in that same crash window.
 */
interface TunnelSyncMemo {
  /** Keys about to be added by a sync in flight. */
  intent: string[];
  /** Keys found held by foreign rules at the last sync. */
  foreign: string[];
  /**
   * Foreign rules an admin adopted after a diff, for the next sync to take over if still as seen.
   * A sync consumes them whatever it finds (a master that dies between its PUT and this record
   * finds the rule no longer as seen: the conflict stays open and the admin looks again).
   */
  adopting: IngressAdoption[];
}

const key = (tunnelId: string) => `reconciler.ingress.${tunnelId}`;

export function readTunnelMemo(db: SqliteDatabase, tunnelId: string): TunnelSyncMemo {
  const raw = getSetting(db, key(tunnelId));
  const memo = raw === undefined ? {} : parseJsonColumn<Partial<TunnelSyncMemo>>(raw, {});
  return { intent: memo.intent ?? [], foreign: memo.foreign ?? [], adopting: memo.adopting ?? [] };
}

export function writeTunnelMemo(
  db: SqliteDatabase,
  tunnelId: string,
  memo: Omit<TunnelSyncMemo, 'adopting'> & Partial<Pick<TunnelSyncMemo, 'adopting'>>,
): void {
  if (memo.intent.length === 0 && memo.foreign.length === 0 && (memo.adopting ?? []).length === 0) {
    statement(db, 'DELETE FROM settings WHERE key = ?').run(key(tunnelId));
    return;
  }
  setSetting(db, key(tunnelId), JSON.stringify(memo));
}
