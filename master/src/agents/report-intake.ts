import { ForbiddenError, type Report, type ReportResponse, snapshotFingerprint } from '@tunnelfleet/common';
import type { Logger } from 'pino';
import {
  type AgentRecord,
  advanceReportSequence,
  findAgent,
  setSnapshotFingerprint,
} from '../store/agents.js';
import { markContainerRemoved, replaceAgentContainers, upsertContainer } from '../store/containers.js';
import type { SqliteDatabase } from '../store/database.js';
import type { MasterHooks } from './ports.js';

/**
 * Applies one validated report of `agent` to the `containers` table, then tells the routes engine.
 * - a sequence not above the last accepted one is `stale` and changes nothing;
 * - a snapshot whose (recomputed, never trusted) fingerprint equals the last applied one is
 *   `unchanged`: one UPDATE of the sequence, nothing else;
 * - an event changes the view, so the stored fingerprint is cleared and the next snapshot applies.
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
  const status = db.transaction((): ReportResponse['status'] => {
    if (!advanceReportSequence(db, agent.id, report.sequence)) return 'stale';
    if (report.kind === 'snapshot') {
      if (fingerprint === findAgent(db, agent.id)?.snapshotFingerprint) return 'unchanged';
      replaceAgentContainers(db, agent.id, report.containers);
    } else if (report.change.action === 'upsert') {
      upsertContainer(db, agent.id, report.change.container);
    } else {
      markContainerRemoved(db, agent.id, report.change.containerId);
    }
    setSnapshotFingerprint(db, agent.id, fingerprint);
    return 'accepted';
  })();
  if (status === 'accepted') {
    try {
      await deps.hooks.onContainersChanged(agent.id);
    } catch (error) {
      deps.logger.error({ err: error, agentId: agent.id }, 'onContainersChanged hook failed');
    }
  }
  return { status, lastSequence: findAgent(db, agent.id)?.reportSequence ?? report.sequence };
}
