import type { RouteRefusalCode } from '@tunnelfleet/common';
import type { SqliteDatabase } from './database.js';
import { statement } from './statements.js';

/** A route its host's gateway refused, as the master keeps it. */
export interface GatewayRefusalRecord {
  routeId: number;
  code: RouteRefusalCode;
  message: string;
}

export function findGatewayRefusal(db: SqliteDatabase, routeId: number): GatewayRefusalRecord | undefined {
  const row = statement(db, 'SELECT route_id, code, message FROM gateway_refusals WHERE route_id = ?').get(
    routeId,
  ) as { route_id: number; code: RouteRefusalCode; message: string } | undefined;
  return row && { routeId: row.route_id, code: row.code, message: row.message };
}

export function listGatewayRefusals(db: SqliteDatabase, agentId: string): GatewayRefusalRecord[] {
  const rows = statement(
    db,
    'SELECT route_id, code, message FROM gateway_refusals WHERE agent_id = ? ORDER BY route_id',
  ).all(agentId) as { route_id: number; code: RouteRefusalCode; message: string }[];
  return rows.map((row) => ({ routeId: row.route_id, code: row.code, message: row.message }));
}

/**
 * Replaces what the agent's gateway refused with `refusals`. Only routes of that agent are kept:
 * a refusal naming another agent's route is dropped here, whatever the agent claims. Returns the
 * ids of the routes whose refusal appeared, changed or went away.
 */
export function replaceGatewayRefusals(
  db: SqliteDatabase,
  agentId: string,
  refusals: readonly GatewayRefusalRecord[],
  at: string,
): number[] {
  // The common case, every heartbeat of a healthy host: nothing refused before or now, no write.
  if (refusals.length === 0 && listGatewayRefusals(db, agentId).length === 0) return [];
  return db.transaction(() => {
    const before = new Map(listGatewayRefusals(db, agentId).map((r) => [r.routeId, r]));
    statement(db, 'DELETE FROM gateway_refusals WHERE agent_id = ?').run(agentId);
    const insert = statement(
      db,
      `INSERT INTO gateway_refusals (route_id, agent_id, code, message, updated_at)
       SELECT id, agent_id, ?, ?, ? FROM routes WHERE id = ? AND agent_id = ?
       ON CONFLICT(route_id) DO NOTHING`,
    );
    for (const refusal of refusals) insert.run(refusal.code, refusal.message, at, refusal.routeId, agentId);
    const after = new Map(listGatewayRefusals(db, agentId).map((r) => [r.routeId, r]));
    const changed = new Set<number>();
    for (const [id, refusal] of after) {
      const old = before.get(id);
      if (!old || old.code !== refusal.code || old.message !== refusal.message) changed.add(id);
    }
    for (const id of before.keys()) if (!after.has(id)) changed.add(id);
    return [...changed];
  })();
}
