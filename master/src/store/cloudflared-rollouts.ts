import type { RolloutHostState, RolloutStatus } from '@tunnelfleet/common';
import type { SqliteDatabase } from './database.js';
import { isoNow, statement } from './statements.js';

/** A rolling upgrade of the fleet's cloudflared image, as the store keeps it. */
export interface RolloutRecord {
  id: string;
  image: string;
  previousImage: string;
  previousFleetImage: string | null;
  status: RolloutStatus;
  canarySize: number;
  waveSize: number;
  waveTimeoutSeconds: number;
  startedAt: string;
  finishedAt: string | null;
  haltReason: string | null;
}

export interface RolloutHostRecord {
  agentId: string;
  wave: number | null;
  state: RolloutHostState;
  detail: string | null;
  waveStartedAt: string | null;
  updatedAt: string;
}

interface RolloutRow {
  id: string;
  image: string;
  previous_image: string;
  previous_fleet_image: string | null;
  status: RolloutStatus;
  canary_size: number;
  wave_size: number;
  wave_timeout_seconds: number;
  started_at: string;
  finished_at: string | null;
  halt_reason: string | null;
}

interface HostRow {
  agent_id: string;
  wave: number | null;
  state: RolloutHostState;
  detail: string | null;
  wave_started_at: string | null;
  updated_at: string;
}

const toRollout = (row: RolloutRow): RolloutRecord => ({
  id: row.id,
  image: row.image,
  previousImage: row.previous_image,
  previousFleetImage: row.previous_fleet_image,
  status: row.status,
  canarySize: row.canary_size,
  waveSize: row.wave_size,
  waveTimeoutSeconds: row.wave_timeout_seconds,
  startedAt: row.started_at,
  finishedAt: row.finished_at,
  haltReason: row.halt_reason,
});

const toHost = (row: HostRow): RolloutHostRecord => ({
  agentId: row.agent_id,
  wave: row.wave,
  state: row.state,
  detail: row.detail,
  waveStartedAt: row.wave_started_at,
  updatedAt: row.updated_at,
});

export function insertRollout(
  db: SqliteDatabase,
  rollout: Omit<RolloutRecord, 'status' | 'startedAt' | 'finishedAt' | 'haltReason'>,
  hosts: Array<{ agentId: string; wave: number | null; detail?: string }>,
): RolloutRecord {
  const at = isoNow();
  statement(
    db,
    `INSERT INTO cloudflared_rollouts (id, image, previous_image, previous_fleet_image, status, canary_size,
       wave_size, wave_timeout_seconds, started_at) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)`,
  ).run(
    rollout.id,
    rollout.image,
    rollout.previousImage,
    rollout.previousFleetImage,
    rollout.canarySize,
    rollout.waveSize,
    rollout.waveTimeoutSeconds,
    at,
  );
  const insertHost = statement(
    db,
    `INSERT INTO cloudflared_rollout_hosts (rollout_id, agent_id, wave, state, detail, updated_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  );
  for (const host of hosts) {
    insertHost.run(
      rollout.id,
      host.agentId,
      host.wave,
      host.wave === null ? 'skipped' : 'pending',
      host.detail ?? null,
      at,
    );
  }
  return findRollout(db, rollout.id)!;
}

export function findRollout(db: SqliteDatabase, id: string): RolloutRecord | undefined {
  const row = statement(db, 'SELECT * FROM cloudflared_rollouts WHERE id = ?').get(id) as
    | RolloutRow
    | undefined;
  return row && toRollout(row);
}

export function findRunningRollout(db: SqliteDatabase): RolloutRecord | undefined {
  const row = statement(db, "SELECT * FROM cloudflared_rollouts WHERE status = 'running'").get() as
    | RolloutRow
    | undefined;
  return row && toRollout(row);
}

/** Newest first. */
export function listRollouts(db: SqliteDatabase, limit = 50): RolloutRecord[] {
  return (
    statement(db, 'SELECT * FROM cloudflared_rollouts ORDER BY started_at DESC, rowid DESC LIMIT ?').all(
      limit,
    ) as RolloutRow[]
  ).map(toRollout);
}

/** Rollouts with a host whose return to the previous image is still to be sent. */
export function listRolloutsRollingBack(db: SqliteDatabase): RolloutRecord[] {
  return (
    statement(
      db,
      `SELECT * FROM cloudflared_rollouts WHERE id IN
         (SELECT rollout_id FROM cloudflared_rollout_hosts WHERE state = 'rolling_back')`,
    ).all() as RolloutRow[]
  ).map(toRollout);
}

export function listRolloutHosts(db: SqliteDatabase, rolloutId: string): RolloutHostRecord[] {
  return (
    statement(
      db,
      `SELECT agent_id, wave, state, detail, wave_started_at, updated_at FROM cloudflared_rollout_hosts
       WHERE rollout_id = ? ORDER BY wave IS NULL, wave, agent_id`,
    ).all(rolloutId) as HostRow[]
  ).map(toHost);
}

/** The agent's part in the running rollout, if it has one. */
export function findRunningRolloutHost(
  db: SqliteDatabase,
  agentId: string,
): { rollout: RolloutRecord; host: RolloutHostRecord } | undefined {
  const rollout = findRunningRollout(db);
  if (!rollout) return undefined;
  const row = statement(
    db,
    `SELECT agent_id, wave, state, detail, wave_started_at, updated_at FROM cloudflared_rollout_hosts
     WHERE rollout_id = ? AND agent_id = ?`,
  ).get(rollout.id, agentId) as HostRow | undefined;
  return row && { rollout, host: toHost(row) };
}

export function setRolloutHostState(
  db: SqliteDatabase,
  rolloutId: string,
  agentId: string,
  state: RolloutHostState,
  detail: string | null,
  options: { waveStarted?: boolean } = {},
): void {
  const at = isoNow();
  statement(
    db,
    `UPDATE cloudflared_rollout_hosts SET state = ?, detail = ?, updated_at = ?,
       wave_started_at = CASE WHEN ? THEN ? ELSE wave_started_at END
     WHERE rollout_id = ? AND agent_id = ?`,
  ).run(state, detail, at, options.waveStarted ? 1 : 0, at, rolloutId, agentId);
}

export function finishRollout(
  db: SqliteDatabase,
  rolloutId: string,
  status: Exclude<RolloutStatus, 'running'>,
  haltReason: string | null,
): boolean {
  return (
    statement(
      db,
      `UPDATE cloudflared_rollouts SET status = ?, finished_at = ?, halt_reason = ?
       WHERE id = ? AND status = 'running'`,
    ).run(status, isoNow(), haltReason, rolloutId).changes === 1
  );
}
