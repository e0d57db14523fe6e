import type { SyncTarget } from '../routes/route-targets.js';

/**
 * The hostnames each zone's next queued sync may be limited to: the names the routes engine's
 * changes touched while the sync waited. A zone change sync then costs its names, not the zone
 * (a zone of 2,000 routes was read whole, and each route's outcome written, for every container
 * start). Any change that came without its names makes the next sync whole, and so does a zone
 * with nothing here (a master restarted with syncs queued): whole is always correct, names are
 * only cheaper. Kept in memory, like the queue's debounce.
 */
export function createPendingZoneNames() {
  const pending = new Map<SyncTarget, Set<string> | 'whole'>();

  /** A change to the zone target, with the hostnames it touched (none given: the whole zone). */
  function add(target: SyncTarget, hostnames: ReadonlySet<string> | undefined): void {
    const current = pending.get(target);
    if (current === 'whole') return;
    if (hostnames === undefined || hostnames.size === 0) {
      pending.set(target, 'whole');
      return;
    }
    pending.set(target, new Set([...(current ?? []), ...hostnames]));
  }

  return {
    add,
    /** What the sync starting now covers: its names, or undefined for the whole zone. */
    take(target: SyncTarget): ReadonlySet<string> | undefined {
      const current = pending.get(target);
      pending.delete(target);
      return current === 'whole' ? undefined : current;
    },
    /** A sync that failed hands its names back for its retry (undefined: it was whole). */
    giveBack(target: SyncTarget, hostnames: ReadonlySet<string> | undefined): void {
      add(target, hostnames);
    },
  };
}

export type PendingZoneNames = ReturnType<typeof createPendingZoneNames>;
