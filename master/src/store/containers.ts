import type { Container } from '@tunnelfleet/common';
import type { SqliteDatabase } from './database.js';
import { isoNow, parseJsonColumn, statement } from './statements.js';

/**
 * A container's last reported view. A container that disappeared (removed, or missing from a full
 * snapshot) keeps its row with state `removed` and its last labels, so the routes engine can
 * still tell which routes it carried and start their grace period.
 */
type StoredContainerState = Container['state'] | 'removed';

export interface ContainerRecord {
  agentId: string;
  containerId: string;
  name: string;
  state: StoredContainerState;
  labels: Record<string, string>;
  ports: Container['exposedPorts'];
  networks: Container['networks'];
  updatedAt: string;
}

interface ContainerRow {
  agent_id: string;
  container_id: string;
  name: string;
  state: StoredContainerState;
  labels: string;
  ports: string;
  networks: string;
  updated_at: string;
}

function toRecord(row: ContainerRow): ContainerRecord {
  return {
    agentId: row.agent_id,
    containerId: row.container_id,
    name: row.name,
    state: row.state,
    // Null-prototype objects: label keys come from hosts and must never reach Object.prototype.
    labels: Object.assign(Object.create(null), parseJsonColumn(row.labels, {})),
    ports: parseJsonColumn(row.ports, []),
    networks: Object.assign(Object.create(null), parseJsonColumn(row.networks, {})),
    updatedAt: row.updated_at,
  };
}

export function upsertContainer(db: SqliteDatabase, agentId: string, container: Container): void {
  statement(
    db,
    `INSERT INTO containers (agent_id, container_id, name, state, labels, ports, networks, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(agent_id, container_id) DO UPDATE SET name = excluded.name, state = excluded.state,
       labels = excluded.labels, ports = excluded.ports, networks = excluded.networks,
       updated_at = excluded.updated_at`,
  ).run(
    agentId,
    container.id,
    container.name,
    container.state,
    JSON.stringify(container.labels),
    JSON.stringify(container.exposedPorts),
    JSON.stringify(container.networks),
    isoNow(),
  );
}

/** Marks one container removed; false when it was unknown or already removed. */
export function markContainerRemoved(db: SqliteDatabase, agentId: string, containerId: string): boolean {
  return (
    statement(
      db,
      "UPDATE containers SET state = 'removed', updated_at = ? WHERE agent_id = ? AND container_id = ? AND state != 'removed'",
    ).run(isoNow(), agentId, containerId).changes === 1
  );
}

/**
 * Applies a full snapshot: every listed container is upserted, every other known container of the
 * agent is marked removed (a snapshot that no longer lists a container counts as a stop).
 * Returns how many rows changed state to removed.
 */
export function replaceAgentContainers(
  db: SqliteDatabase,
  agentId: string,
  containers: readonly Container[],
): number {
  return db.transaction(() => {
    for (const container of containers) upsertContainer(db, agentId, container);
    const listed = new Set(containers.map((c) => c.id));
    let removed = 0;
    for (const known of listContainers(db, agentId)) {
      if (!listed.has(known.containerId) && markContainerRemoved(db, agentId, known.containerId)) removed++;
    }
    return removed;
  })();
}

export function listContainers(db: SqliteDatabase, agentId: string): ContainerRecord[] {
  return (
    statement(db, 'SELECT * FROM containers WHERE agent_id = ? ORDER BY container_id').all(
      agentId,
    ) as ContainerRow[]
  ).map(toRecord);
}

/** Drops a removed container's row once the routes engine no longer needs it. */
/** Containers reported removed that no route row names any more: nothing needs them. */
export function listUnroutedRemovedContainers(
  db: SqliteDatabase,
): { agentId: string; containerId: string }[] {
  const rows = statement(
    db,
    `SELECT agent_id, container_id FROM containers c WHERE state = 'removed'
     AND NOT EXISTS (SELECT 1 FROM routes r WHERE r.agent_id = c.agent_id AND r.container_id = c.container_id)`,
  ).all() as { agent_id: string; container_id: string }[];
  return rows.map((row) => ({ agentId: row.agent_id, containerId: row.container_id }));
}

export function deleteContainer(db: SqliteDatabase, agentId: string, containerId: string): void {
  statement(db, 'DELETE FROM containers WHERE agent_id = ? AND container_id = ?').run(agentId, containerId);
}
