import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { insertAgentKey } from '../src/store/agent-keys.js';
import { insertAgent } from '../src/store/agents.js';
import { openDatabase, type SqliteDatabase } from '../src/store/database.js';

/**
 * A fresh store (a real SQLite file in a temporary directory) for each test, removed after it,
 * with each named agent enrolled: agent `<name>` under key `k_<name>`, which may ask for any
 * hostname. Registers the vitest hooks, so call it at the top of a spec file; the returned
 * function gives the current test's database.
 */
export function useTempStore(options: { agents?: readonly string[] } = {}): () => SqliteDatabase {
  let dir: string | undefined;
  let db: SqliteDatabase | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tunnelfleet-store-'));
    db = openDatabase(dir);
    for (const agent of options.agents ?? []) {
      insertAgentKey(db, {
        id: `k_${agent}`,
        name: agent,
        secretHash: 'x',
        hostnameAllowlist: [],
        allowAnyHostname: true,
        autoApprove: true,
      });
      insertAgent(db, { id: agent, keyId: `k_${agent}`, name: agent, hostname: null, agentVersion: null });
    }
  });
  afterEach(() => {
    db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (!db) throw new Error('the store is opened before each test');
    return db;
  };
}
