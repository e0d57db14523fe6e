import { ForbiddenError, type Report, type ReportResponse, snapshotFingerprint } from '@tunnelfleet/common';
import type { Logger } from 'pino';
import {
  type AgentRecord,
  advanceReportSequence,
  findAgent,
  setSnapshotFingerprint,
} from '../store/agents.js';
import {
  type ContainerChange,
  findContainer,
  markContainerRemoved,
  replaceAgentContainers,
  upsertContainer,
} from '../store/containers.js';
import type { SqliteDatabase } from '../store/database.js';
import type { MasterHooks } from './ports.js';

/**
 * Applies one validated report of `agent` to the `containers` table, then tells the routes engine.
 * - a sequence not above the last accepted one is `stale` and changes nothing;
 * - a snapshot whose (recomputed, never trusted) fingerprint equals the last applied one is
 *   `unchanged`: one UPDATE of the sequence, nothing else;
 * - an event changes the view, so the stored fingerprint is cleared and the next snapshot applies;
 * - the routes engine is told which containers' stored view changed, if any.
 */
export async function applyReport(
  deps: { db: SqliteDatabase; hooks: MasterHooks; logger: Logger },
  agent: AgentRecord,
  report: Report,
): Promise<ReportResponse> {
  const { db } = deps;
  if (report.agentId !== agent.id) {
    throw new ForbiddenError(`agentId: ${report.agentId} is not the agent of this key`);
  }
  const fingerprint = report.kind === 'snapshot' ? snapshotFingerprint(report.containers) : null;
  const outcome = db.transaction((): { status: ReportResponse['status']; changed: ContainerChange[] } => {
    if (!advanceReportSequence(db, agent.id, report.sequence)) return { status: 'stale', changed: [] };
    let changed: ContainerChange[];
    if (report.kind === 'snapshot') {
      if (fingerprint === findAgent(db, agent.id)?.snapshotFingerprint)
        return { status: 'unchanged', changed: [] };
      changed = replaceAgentContainers(db, agent.id, report.containers);
    } else if (report.change.action === 'upsert') {
      const { container } = report.change;
      const change = upsertContainer(db, agent.id, container);
      changed = change ? [change] : [];
    } else {
      const { containerId } = report.change;
      const before = findContainer(db, agent.id, containerId);
      changed = markContainerRemoved(db, agent.id, containerId) ? [{ containerId, before }] : [];
    }
    setSnapshotFingerprint(db, agent.id, fingerprint);
    return { status: 'accepted', changed };
  })();
  // Only the changed containers are planned again: a host's report of one restart does not
  // re-plan its other services, and a snapshot that only confirms the events before it plans nothing.
  if (outcome.changed.length > 0) {
    try {
      await deps.hooks.onContainersChanged(agent.id, { changes: outcome.changed });
    } catch (error) {
      deps.logger.error({ err: error, agentId: agent.id }, 'onContainersChanged hook failed');
    }
  }
  const { status } = outcome;
  return { status, lastSequence: findAgent(db, agent.id)?.reportSequence ?? report.sequence };
}
