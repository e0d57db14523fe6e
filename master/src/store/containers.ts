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

/** A container whose stored view a report changed, with the view it had before (none: it is new). */
export interface ContainerChange {
  containerId: string;
  before: ContainerRecord | undefined;
}

export function findContainer(
  db: SqliteDatabase,
  agentId: string,
  containerId: string,
): ContainerRecord | undefined {
  const row = statement(db, 'SELECT * FROM containers WHERE agent_id = ? AND container_id = ?').get(
    agentId,
    containerId,
  ) as ContainerRow | undefined;
  return row ? toRecord(row) : undefined;
}

/**
 * Stores the container's reported view. Returns the change, or undefined when the view equals the
 * stored one (a repeated report writes nothing, so nothing downstream is planned again).
 */
export function upsertContainer(
  db: SqliteDatabase,
  agentId: string,
  container: Container,
): ContainerChange | undefined {
  const before = findContainer(db, agentId, container.id);
  const written = statement(
    db,
    `INSERT INTO containers (agent_id, container_id, name, state, labels, ports, networks, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(agent_id, container_id) DO UPDATE SET name = excluded.name, state = excluded.state,
       labels = excluded.labels, ports = excluded.ports, networks = excluded.networks,
       updated_at = excluded.updated_at
     WHERE name IS NOT excluded.name OR state IS NOT excluded.state OR labels IS NOT excluded.labels
       OR ports IS NOT excluded.ports OR networks IS NOT excluded.networks`,
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
  return written.changes === 1 ? { containerId: container.id, before } : undefined;
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
 * Returns the containers whose stored view changed.
 */
export function replaceAgentContainers(
  db: SqliteDatabase,
  agentId: string,
  containers: readonly Container[],
): ContainerChange[] {
  return db.transaction(() => {
    const changes = containers.flatMap((container) => upsertContainer(db, agentId, container) ?? []);
    const listed = new Set(containers.map((c) => c.id));
    for (const known of listContainers(db, agentId)) {
      if (!listed.has(known.containerId) && markContainerRemoved(db, agentId, known.containerId))
        changes.push({ containerId: known.containerId, before: known });
    }
    return changes;
  })();
}

export function listContainers(db: SqliteDatabase, agentId: string): ContainerRecord[] {
  return (
    statement(db, 'SELECT * FROM containers WHERE agent_id = ? ORDER BY container_id').all(
      agentId,
    ) as ContainerRow[]
  ).map(toRecord);
}

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

/** Drops a removed container's row once the routes engine no longer needs it. */
export function deleteContainer(db: SqliteDatabase, agentId: string, containerId: string): void {
  statement(db, 'DELETE FROM containers WHERE agent_id = ? AND container_id = ?').run(agentId, containerId);
}
