import type { Logger } from '@tunnelfleet/common';
import type { CloudflareOperations } from '../cloudflare/cloudflare-layer.js';
import type { SyncTarget } from '../routes/route-targets.js';
import type { SqliteDatabase } from '../store/database.js';
import type { RouteOutcomes } from './route-outcomes.js';

/** What each target's sync needs. */
export interface SyncContext {
  db: SqliteDatabase;
  /** The Cloudflare calls of this sync, in its lane (`budget-lanes.ts`). */
  cloudflare: CloudflareOperations;
  logger: Logger;
  outcomes: RouteOutcomes;
  /** Queues other targets' syncs (the Access sync's verdicts decide what the others publish). */
  markDirty(targets: readonly SyncTarget[]): Promise<void>;
  now(): Date;
}
