import { insertAgentKey } from '#master/store/agent-keys.js';
import { approveAgent, insertAgent } from '#master/store/agents.js';
import type { SqliteDatabase } from '#master/store/database.js';

/** An approved agent `id` with a key of its own (`key_<id>`) that allows any hostname. */
export function insertApprovedAgent(db: SqliteDatabase, id: string): string {
  insertAgentKey(db, {
    id: `key_${id}`,
    name: id,
    secretHash: 'x',
    hostnameAllowlist: [],
    allowAnyHostname: true,
    autoApprove: true,
  });
  insertAgent(db, { id, keyId: `key_${id}`, name: id, hostname: null, agentVersion: null });
  approveAgent(db, id);
  return id;
}
