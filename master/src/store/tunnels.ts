import type { SqliteDatabase } from './database.js';
import { isoNow, statement } from './statements.js';

interface TunnelRecord {
  id: string;
  name: string;
  accountId: string;
  agentId: string | null;
  createdAt: string;
  deletedAt: string | null;
}

interface TunnelRow {
  id: string;
  name: string;
  account_id: string;
  agent_id: string | null;
  created_at: string;
  deleted_at: string | null;
}

function toRecord(row: TunnelRow): TunnelRecord {
  return {
    id: row.id,
    name: row.name,
    accountId: row.account_id,
    agentId: row.agent_id,
    createdAt: row.created_at,
    deletedAt: row.deleted_at,
  };
}

/**
 * Records a tunnel we created (or found by its name at Cloudflare). Idempotent: the same name keeps
 * one row, whose id follows what Cloudflare reports.
 */
export function upsertTunnel(
  db: SqliteDatabase,
  tunnel: Pick<TunnelRecord, 'id' | 'name' | 'accountId' | 'agentId'>,
): TunnelRecord {
  statement(
    db,
    `INSERT INTO tunnels (id, name, account_id, agent_id, created_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(name) DO UPDATE SET id = excluded.id, account_id = excluded.account_id,
       agent_id = excluded.agent_id, deleted_at = NULL`,
  ).run(tunnel.id, tunnel.name, tunnel.accountId, tunnel.agentId, isoNow());
  return findTunnelByName(db, tunnel.name)!;
}

export function findTunnelById(db: SqliteDatabase, id: string): TunnelRecord | undefined {
  const row = statement(db, 'SELECT * FROM tunnels WHERE id = ?').get(id) as TunnelRow | undefined;
  return row && toRecord(row);
}

export function findTunnelByName(db: SqliteDatabase, name: string): TunnelRecord | undefined {
  const row = statement(db, 'SELECT * FROM tunnels WHERE name = ?').get(name) as TunnelRow | undefined;
  return row && toRecord(row);
}

/** The agent's own tunnel, unless it was deleted. */
export function findAgentTunnel(db: SqliteDatabase, agentId: string): TunnelRecord | undefined {
  const row = statement(db, 'SELECT * FROM tunnels WHERE agent_id = ? AND deleted_at IS NULL').get(agentId) as
    | TunnelRow
    | undefined;
  return row && toRecord(row);
}

export function listTunnels(db: SqliteDatabase): TunnelRecord[] {
  return (statement(db, 'SELECT * FROM tunnels ORDER BY created_at, name').all() as TunnelRow[]).map(
    toRecord,
  );
}

export function markTunnelDeleted(db: SqliteDatabase, id: string): void {
  statement(db, 'UPDATE tunnels SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL').run(isoNow(), id);
}

/** Detaches an agent's tunnel rows before the agent row itself is deleted (they stay as history). */
export function detachAgentTunnels(db: SqliteDatabase, agentId: string): void {
  statement(db, 'UPDATE tunnels SET agent_id = NULL WHERE agent_id = ?').run(agentId);
}
