import type { MasterHooks } from '../agents/ports.js';
import { type AuditActor, recordAudit } from '../store/audit-log.js';
import type { SqliteDatabase } from '../store/database.js';

/** An operator's request for a full reconcile now: audited, then handed to the reconciler. */
export async function requestReconcile(
  deps: { db: SqliteDatabase; hooks: Pick<MasterHooks, 'requestReconcile'> },
  actor: AuditActor,
): Promise<{ jobId?: string }> {
  recordAudit(deps.db, { actor, action: 'reconcile.request' });
  return (await deps.hooks.requestReconcile()) ?? {};
}
