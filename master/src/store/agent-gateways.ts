import type { SqliteDatabase } from './database.js';
import { statement } from './statements.js';

/** An agent's gateway as far as publishing goes: whether it is ready, and where it says it is. */
export interface AgentGatewayRecord {
  ready: boolean;
  serviceUrl: string | null;
}

export function findAgentGateway(db: SqliteDatabase, agentId: string): AgentGatewayRecord | undefined {
  const row = statement(db, 'SELECT ready, service_url FROM agent_gateways WHERE agent_id = ?').get(
    agentId,
  ) as { ready: number; service_url: string | null } | undefined;
  return row && { ready: row.ready === 1, serviceUrl: row.service_url };
}

/**
 * Records what the agent's heartbeat says of its gateway (undefined: it runs none); true when that
 * changed what is stored, so that the routes through it are synced again.
 */
export function saveAgentGateway(
  db: SqliteDatabase,
  agentId: string,
  gateway: AgentGatewayRecord | undefined,
  at: string,
): boolean {
  const before = findAgentGateway(db, agentId);
  if (gateway === undefined) {
    if (!before) return false;
    statement(db, 'DELETE FROM agent_gateways WHERE agent_id = ?').run(agentId);
    return true;
  }
  if (before && before.ready === gateway.ready && before.serviceUrl === gateway.serviceUrl) return false;
  statement(
    db,
    `INSERT INTO agent_gateways (agent_id, ready, service_url, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT(agent_id) DO UPDATE SET ready = excluded.ready, service_url = excluded.service_url,
       updated_at = excluded.updated_at`,
  ).run(agentId, gateway.ready ? 1 : 0, gateway.serviceUrl, at);
  return true;
}
