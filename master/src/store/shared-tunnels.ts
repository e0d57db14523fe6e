import type { SqliteDatabase } from './database.js';
import { statement } from './statements.js';

export interface SharedTunnelRecord {
  name: string;
  tunnelId: string;
  createdAt: string;
}

export interface SharedTunnelMember {
  tunnelName: string;
  agentId: string;
  addedAt: string;
}

interface SharedTunnelRow {
  name: string;
  tunnel_id: string;
  created_at: string;
}

interface MemberRow {
  tunnel_name: string;
  agent_id: string;
  added_at: string;
}

const toRecord = (row: SharedTunnelRow): SharedTunnelRecord => ({
  name: row.name,
  tunnelId: row.tunnel_id,
  createdAt: row.created_at,
});
const toMember = (row: MemberRow): SharedTunnelMember => ({
  tunnelName: row.tunnel_name,
  agentId: row.agent_id,
  addedAt: row.added_at,
});

export function insertSharedTunnel(db: SqliteDatabase, tunnel: SharedTunnelRecord): void {
  statement(db, 'INSERT INTO shared_tunnels (name, tunnel_id, created_at) VALUES (?, ?, ?)').run(
    tunnel.name,
    tunnel.tunnelId,
    tunnel.createdAt,
  );
}

export function findSharedTunnel(db: SqliteDatabase, name: string): SharedTunnelRecord | undefined {
  const row = statement(db, 'SELECT * FROM shared_tunnels WHERE name = ?').get(name) as
    | SharedTunnelRow
    | undefined;
  return row && toRecord(row);
}

export function listSharedTunnels(db: SqliteDatabase): SharedTunnelRecord[] {
  return (statement(db, 'SELECT * FROM shared_tunnels ORDER BY name').all() as SharedTunnelRow[]).map(
    toRecord,
  );
}

/** Its members go with it (ON DELETE CASCADE). */
export function deleteSharedTunnelRow(db: SqliteDatabase, name: string): void {
  statement(db, 'DELETE FROM shared_tunnels WHERE name = ?').run(name);
}

/** False when the agent was already a member. */
export function addSharedTunnelMember(db: SqliteDatabase, member: SharedTunnelMember): boolean {
  return (
    statement(
      db,
      'INSERT INTO shared_tunnel_members (tunnel_name, agent_id, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    ).run(member.tunnelName, member.agentId, member.addedAt).changes > 0
  );
}

/** False when the agent was not a member. */
export function removeSharedTunnelMember(db: SqliteDatabase, tunnelName: string, agentId: string): boolean {
  return (
    statement(db, 'DELETE FROM shared_tunnel_members WHERE tunnel_name = ? AND agent_id = ?').run(
      tunnelName,
      agentId,
    ).changes > 0
  );
}

export function listSharedTunnelMembers(db: SqliteDatabase, tunnelName: string): SharedTunnelMember[] {
  return (
    statement(
      db,
      'SELECT * FROM shared_tunnel_members WHERE tunnel_name = ? ORDER BY added_at, agent_id',
    ).all(tunnelName) as MemberRow[]
  ).map(toMember);
}

/** The shared tunnels the agent is a member of. */
export function listAgentSharedTunnels(db: SqliteDatabase, agentId: string): SharedTunnelRecord[] {
  return (
    statement(
      db,
      `SELECT t.* FROM shared_tunnels t JOIN shared_tunnel_members m ON m.tunnel_name = t.name
       WHERE m.agent_id = ? ORDER BY t.name`,
    ).all(agentId) as SharedTunnelRow[]
  ).map(toRecord);
}

export function isSharedTunnelMember(db: SqliteDatabase, tunnelName: string, agentId: string): boolean {
  return (
    statement(db, 'SELECT 1 FROM shared_tunnel_members WHERE tunnel_name = ? AND agent_id = ?').get(
      tunnelName,
      agentId,
    ) !== undefined
  );
}

/** Whether the tunnel id is a shared tunnel's (its routes may come from several agents). */
export function isSharedTunnelId(db: SqliteDatabase, tunnelId: string): boolean {
  return statement(db, 'SELECT 1 FROM shared_tunnels WHERE tunnel_id = ?').get(tunnelId) !== undefined;
}
