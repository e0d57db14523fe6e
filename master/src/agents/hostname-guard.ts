import { checkHostnameAllowed, type HostnameVerdict } from '../keys/hostname-allowlist.js';
import { findAgentKey } from '../store/agent-keys.js';
import { findAgent } from '../store/agents.js';
import type { SqliteDatabase } from '../store/database.js';

/**
 * May this agent claim this hostname under its key's allowlist? The routes engine calls this for
 * every hostname it derives from a report and, on a refusal, gives the route status `invalid`
 * and opens a conflict of kind `outside_allowlist` carrying `reason` — so an agent can never claim a
 * hostname outside its allowlist, and the operator sees why. (The managed-zones check is the
 * routes engine's too.) An unknown or revoked agent may claim nothing.
 */
export function checkAgentHostname(db: SqliteDatabase, agentId: string, hostname: string): HostnameVerdict {
  const agent = findAgent(db, agentId);
  const key = agent && findAgentKey(db, agent.keyId);
  if (!agent || !key || agent.status === 'revoked' || key.revokedAt !== null) {
    return { allowed: false, reason: `agent ${agentId} is unknown or revoked` };
  }
  return checkHostnameAllowed(hostname, key);
}
