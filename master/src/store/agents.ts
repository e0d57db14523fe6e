import type { LabelPrefixes } from '@tunnelfleet/common';
import type { SqliteDatabase } from './database.js';
import { isoNow, statement } from './statements.js';

type AgentStatus = 'pending' | 'approved' | 'revoked';

export interface AgentRecord {
  id: string;
  keyId: string;
  name: string;
  status: AgentStatus;
  hostname: string | null;
  agentVersion: string | null;
  createdAt: string;
  approvedAt: string | null;
  revokedAt: string | null;
  lastSeenAt: string | null;
  /** Highest report sequence accepted; a report not above it is stale. */
  reportSequence: number;
  /** Fingerprint of the last snapshot applied; an identical snapshot is a no-op. */
  snapshotFingerprint: string | null;
  /** Highest command version issued to the agent or applied by it (the Redis counter's floor). */
  commandVersion: number;
  /** When an operator paused the agent's tunnel; null while it runs. */
  pausedAt: string | null;
  /** The host's custom DockFlare and Labelgate prefixes, as its last registration sent them. */
  labelPrefixes: LabelPrefixes;
}

interface AgentRow {
  id: string;
  key_id: string;
  name: string;
  status: AgentStatus;
  hostname: string | null;
  agent_version: string | null;
  created_at: string;
  approved_at: string | null;
  revoked_at: string | null;
  last_seen_at: string | null;
  report_sequence: number;
  snapshot_fingerprint: string | null;
  command_version: number;
  paused_at: string | null;
  label_prefixes: string;
}

function toRecord(row: AgentRow): AgentRecord {
  return {
    id: row.id,
    keyId: row.key_id,
    name: row.name,
    status: row.status,
    hostname: row.hostname,
    agentVersion: row.agent_version,
    createdAt: row.created_at,
    approvedAt: row.approved_at,
    revokedAt: row.revoked_at,
    lastSeenAt: row.last_seen_at,
    reportSequence: row.report_sequence,
    snapshotFingerprint: row.snapshot_fingerprint,
    commandVersion: row.command_version,
    pausedAt: row.paused_at,
    labelPrefixes: JSON.parse(row.label_prefixes) as LabelPrefixes,
  };
}

export function insertAgent(
  db: SqliteDatabase,
  agent: Pick<AgentRecord, 'id' | 'keyId' | 'name' | 'hostname' | 'agentVersion'> &
    Partial<Pick<AgentRecord, 'labelPrefixes'>>,
): AgentRecord {
  const createdAt = isoNow();
  statement(
    db,
    `INSERT INTO agents (id, key_id, name, status, hostname, agent_version, created_at, last_seen_at, label_prefixes)
     VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)`,
  ).run(
    agent.id,
    agent.keyId,
    agent.name,
    agent.hostname,
    agent.agentVersion,
    createdAt,
    createdAt,
    JSON.stringify(agent.labelPrefixes ?? {}),
  );
  return findAgent(db, agent.id)!;
}

export function findAgent(db: SqliteDatabase, id: string): AgentRecord | undefined {
  const row = statement(db, 'SELECT * FROM agents WHERE id = ?').get(id) as AgentRow | undefined;
  return row && toRecord(row);
}

export function findAgentByKey(db: SqliteDatabase, keyId: string): AgentRecord | undefined {
  const row = statement(db, 'SELECT * FROM agents WHERE key_id = ?').get(keyId) as AgentRow | undefined;
  return row && toRecord(row);
}

export function listAgents(db: SqliteDatabase, filter: { status?: AgentStatus } = {}): AgentRecord[] {
  const rows = filter.status
    ? statement(db, 'SELECT * FROM agents WHERE status = ? ORDER BY created_at, id').all(filter.status)
    : statement(db, 'SELECT * FROM agents ORDER BY created_at, id').all();
  return (rows as AgentRow[]).map(toRecord);
}

/**
 * Ids of approved agents whose tunnel provisioning has not finished: without a live tunnel, or
 * running (not paused) with one but no command ever queued — the master stopped between creating
 * the tunnel and queuing its `start_tunnel`. Ids only: while a fleet enrols, most are under way.
 */
export function listAgentIdsAwaitingTunnel(db: SqliteDatabase): string[] {
  return statement(
    db,
    `SELECT id FROM agents a WHERE a.status = 'approved' AND (
       NOT EXISTS (SELECT 1 FROM tunnels t WHERE t.agent_id = a.id AND t.deleted_at IS NULL)
       OR (a.paused_at IS NULL AND a.command_version = 0)
     ) ORDER BY a.created_at, a.id`,
  )
    .all()
    .map((row) => (row as { id: string }).id);
}

/** Approved agents without a live tunnel of their own: their routes say why they are not carried. */
export function listApprovedAgentIdsWithoutTunnel(db: SqliteDatabase): string[] {
  return statement(
    db,
    `SELECT id FROM agents a WHERE a.status = 'approved'
       AND NOT EXISTS (SELECT 1 FROM tunnels t WHERE t.agent_id = a.id AND t.deleted_at IS NULL)`,
  )
    .all()
    .map((row) => (row as { id: string }).id);
}

/** Refreshes what the agent says about itself at (re-)registration. */
export function updateAgentRegistration(
  db: SqliteDatabase,
  id: string,
  details: Pick<AgentRecord, 'name' | 'hostname' | 'agentVersion' | 'labelPrefixes'>,
): void {
  statement(
    db,
    'UPDATE agents SET name = ?, hostname = ?, agent_version = ?, label_prefixes = ?, last_seen_at = ? WHERE id = ?',
  ).run(
    details.name,
    details.hostname,
    details.agentVersion,
    JSON.stringify(details.labelPrefixes),
    isoNow(),
    id,
  );
}

/** pending → approved; false when the agent is not pending. */
export function approveAgent(db: SqliteDatabase, id: string): boolean {
  return (
    statement(
      db,
      "UPDATE agents SET status = 'approved', approved_at = ? WHERE id = ? AND status = 'pending'",
    ).run(isoNow(), id).changes === 1
  );
}

/** Any status → revoked; false when already revoked or unknown. Revocation is final. */
export function revokeAgent(db: SqliteDatabase, id: string): boolean {
  return (
    statement(
      db,
      "UPDATE agents SET status = 'revoked', revoked_at = ? WHERE id = ? AND status != 'revoked'",
    ).run(isoNow(), id).changes === 1
  );
}

/**
 * Accepts a report's sequence if it is above the last one, in one statement so two concurrent
 * reports cannot both win. Returns false for a stale report.
 */
export function advanceReportSequence(db: SqliteDatabase, id: string, sequence: number): boolean {
  return (
    statement(
      db,
      'UPDATE agents SET report_sequence = ?, last_seen_at = ? WHERE id = ? AND report_sequence < ?',
    ).run(sequence, isoNow(), id, sequence).changes === 1
  );
}

export function setSnapshotFingerprint(db: SqliteDatabase, id: string, fingerprint: string | null): void {
  statement(db, 'UPDATE agents SET snapshot_fingerprint = ? WHERE id = ?').run(fingerprint, id);
}

export function setAgentLastSeen(db: SqliteDatabase, id: string, at: string): void {
  statement(db, 'UPDATE agents SET last_seen_at = ? WHERE id = ?').run(at, id);
}

/**
 * Raises the agent's known command version to `version`; never lowers it. Writes nothing when it
 * is not higher, so the heartbeat of every agent costs no write in the steady state.
 */
export function raiseCommandVersion(db: SqliteDatabase, id: string, version: number): void {
  statement(db, 'UPDATE agents SET command_version = ? WHERE id = ? AND command_version < ?').run(
    version,
    id,
    version,
  );
}

/** Marks the tunnel paused (keeps the first pause time) or running; false when nothing changed. */
export function setAgentPaused(db: SqliteDatabase, id: string, paused: boolean): boolean {
  return (
    (paused
      ? statement(db, 'UPDATE agents SET paused_at = ? WHERE id = ? AND paused_at IS NULL').run(isoNow(), id)
      : statement(db, 'UPDATE agents SET paused_at = NULL WHERE id = ? AND paused_at IS NOT NULL').run(id)
    ).changes === 1
  );
}

/** Removes the agent; its containers and routes go with it (ON DELETE CASCADE). */
export function deleteAgentRow(db: SqliteDatabase, id: string): boolean {
  return statement(db, 'DELETE FROM agents WHERE id = ?').run(id).changes === 1;
}
