import type { Overview } from '@tunnelfleet/common';
import type { HeartbeatStore } from '../agents/heartbeats.js';
import type { BudgetState } from '../cloudflare/call-budget.js';
import type { RetainedRouteService } from '../routes/retained-route-service.js';
import { listAgents } from '../store/agents.js';
import { listConflicts } from '../store/conflicts.js';
import type { SqliteDatabase } from '../store/database.js';
import { countRoutesByStatus } from '../store/routes.js';
import { getSetting, SETTING_KEYS } from '../store/settings.js';
import { parseJsonColumn, statement } from '../store/statements.js';

const LATEST_ERRORS = 10;

const sum = (counts: number[]) => counts.reduce((total, count) => total + count, 0);

/** The fleet at a glance, read from SQLite, the heartbeats and the Cloudflare call budgets. */
export function createFleetOverview(deps: {
  db: SqliteDatabase;
  heartbeats: HeartbeatStore;
  retainedRoutes: RetainedRouteService;
  budgets: () => BudgetState[];
}) {
  const { db } = deps;
  return async (): Promise<Overview> => {
    const agents = listAgents(db);
    const seen = await deps.heartbeats.lastSeen(agents.map((agent) => agent.id));
    const counts = { online: 0, offline: 0, pending: 0, revoked: 0 };
    for (const agent of agents) {
      if (agent.status === 'revoked') counts.revoked++;
      else {
        if (agent.status === 'pending') counts.pending++;
        if (deps.heartbeats.isOnline(seen.get(agent.id))) counts.online++;
        else counts.offline++;
      }
    }
    const errors = statement(
      db,
      "SELECT id, hostname, agent_id, status_message, updated_at FROM routes WHERE status = 'error' ORDER BY updated_at DESC LIMIT ?",
    ).all(LATEST_ERRORS) as {
      id: number;
      hostname: string | null;
      agent_id: string;
      status_message: string | null;
      updated_at: string;
    }[];
    const last = getSetting(db, SETTING_KEYS.lastReconcile);
    return {
      agents: counts,
      routes: countRoutesByStatus(db),
      retainedRoutes: deps.retainedRoutes.list().length,
      openConflicts: listConflicts(db).length,
      cloudflare: deps.budgets().map((budget) => ({
        token: budget.token,
        inWindow: sum(Object.values(budget.inWindow)),
        ceiling: budget.ceiling,
        queued: sum(Object.values(budget.queued)),
      })),
      lastReconcile: last === undefined ? null : parseJsonColumn<Overview['lastReconcile']>(last, null),
      latestErrors: errors.map((row) => ({
        routeId: row.id,
        hostname: row.hostname,
        agentId: row.agent_id,
        message: row.status_message,
        updatedAt: row.updated_at,
      })),
    };
  };
}

export type FleetOverview = ReturnType<typeof createFleetOverview>;
