import { normalizeHostname } from '../cloudflare/cloudflare-credentials.js';
import type { DnsSyncResult } from '../cloudflare/dns.js';
import type { DesiredDnsRecord, OwnedDnsRecord } from '../cloudflare/dns-plan.js';
import { ACCESS_TARGET } from '../routes/route-targets.js';
import { recordAudit } from '../store/audit-log.js';
import {
  listOwnedApps,
  listOwnedRecords,
  listOwnedRecordsOn,
  replaceOwnedRecords,
} from '../store/owned-objects.js';
import { type CarriedRoute, dnsHolders, readDesiredState, routesOfRule } from './desired-state.js';
import type { SyncContext } from './sync-context.js';

/**
 * Owner written into the comment of no record: used for a sync whose only work is deleting
 * records we own that nobody wants any more, in a zone where no agent wants a record.
 */
const CLEANUP_OWNER = 'tunnelfleet-cleanup';

/**
 * Brings one zone's CNAMEs in line: one layer sync for every agent that wants records there (a
 * record's comment names its agent): one read of the zone and its changes in batch writes.
 * Records we own that no route wants are handed to one of those syncs for deletion. A hostname
 * carried by two routes on different paths gets one record, pointing where the first claim is.
 *
 * With `hostnames` (the names a change touched), only those are read and synced, here and at
 * Cloudflare: each name is decided exactly as in a sync of the whole zone, and the rest of the
 * zone is left to the syncs of its own changes and to the drift checks, which sync it whole.
 */
export async function syncZone(
  ctx: SyncContext,
  zoneName: string,
  hostnames?: ReadonlySet<string>,
): Promise<void> {
  const { db, cloudflare } = ctx;
  const { zoneId } = await cloudflare.resolveZone(zoneName);
  const names = hostnames && new Set([...hostnames].map(normalizeHostname));
  // Only published routes: one whose Access app is not in place yet gets no CNAME (fail closed).
  // A route in conflict with a foreign Access app gets no record until it wins; one in conflict
  // with a foreign record stays here, as this sync is what finds the record gone.
  const scope = names ? { zone: zoneName, hostnames: names } : { zone: zoneName };
  const carried = readDesiredState(db, ctx.now(), scope).published.filter(
    (r) => r.zone === zoneName && !r.foreignConflicts.includes('foreign_access_app'),
  );
  const holders = dnsHolders(carried);
  const byOwner = new Map<string, DesiredDnsRecord[]>();
  for (const [hostname, route] of holders) {
    const records = byOwner.get(route.agentId) ?? [];
    records.push({
      hostname,
      tunnelId: route.tunnelId,
      ...(route.spec.zoneLabel ? { zone: route.spec.zoneLabel } : {}),
    });
    byOwner.set(route.agentId, records);
  }
  const ownedBefore = names ? listOwnedRecordsOn(db, zoneId, names) : listOwnedRecords(db, zoneId);
  const unwanted: OwnedDnsRecord[] = ownedBefore
    .filter((r) => !holders.has(r.hostname))
    .map((r) => ({ hostname: r.hostname, recordId: r.cfId }));
  const calls = [...byOwner.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  if (calls.length === 0 && unwanted.length > 0) calls.push([CLEANUP_OWNER, []]);

  let results: DnsSyncResult[];
  let failure: unknown;
  try {
    results = await cloudflare.syncDnsOwners(
      calls.map(([owner, desired], i) => ({ owner, desired, owned: i === 0 ? unwanted : [] })),
      names,
    );
  } catch (error) {
    failure = error;
    const message = (error as Error).message;
    results = calls.map(([, desired], i) => ({
      hostnames: Object.fromEntries(
        desired.map((d) => [normalizeHostname(d.hostname), { status: 'error' as const, message }]),
      ),
      deleted: [],
      owned: i === 0 ? unwanted : [],
    }));
  }

  db.transaction(() => {
    const at = ctx.now().toISOString();
    const owned = new Map<string, { hostname: string; recordId: string; adopted: boolean }>();
    const deleted: OwnedDnsRecord[] = [];
    const adopted = new Set<string>();
    for (const result of results) {
      for (const record of result.owned) owned.set(record.recordId, { ...record, adopted: false });
      for (const verdict of Object.values(result.hostnames)) {
        if (verdict.status === 'adopted' && verdict.recordId) adopted.add(verdict.recordId);
      }
      deleted.push(...result.deleted);
    }
    for (const id of adopted) {
      const record = owned.get(id);
      if (record) record.adopted = true;
    }
    // Records we knew of that the layer neither kept nor deleted are gone from the zone (deleted by hand).
    const previous = new Set(ownedBefore.map((r) => r.cfId));
    const created = [...owned.values()].filter((r) => !previous.has(r.recordId));
    replaceOwnedRecords(db, zoneId, [...owned.values()], at, names);
    if (created.length > 0 || deleted.length > 0) {
      recordAudit(db, {
        actor: 'system',
        action: 'cloudflare.dns.sync',
        target: zoneName,
        details: {
          created: created.map((r) => ({ hostname: r.hostname, recordId: r.recordId, adopted: r.adopted })),
          deleted: deleted.map((r) => ({ hostname: r.hostname, recordId: r.recordId })),
        },
      });
    }
    const verdicts = new Map(results.flatMap((r) => Object.entries(r.hostnames)));
    for (const route of carried) recordVerdict(route, verdicts.get(route.hostname), holders, at);
  })();
  // An Access app outlives its hostname's record until the record is gone (removal: DNS first).
  const deletedHosts = new Set(results.flatMap((r) => r.deleted.map((d) => d.hostname)));
  if (listOwnedApps(db).some((a) => deletedHosts.has(a.hostname))) await ctx.markDirty([ACCESS_TARGET]);
  if (failure) throw failure;

  function recordVerdict(
    route: CarriedRoute,
    verdict: DnsSyncResult['hostnames'][string] | undefined,
    holders: Map<string, CarriedRoute>,
    at: string,
  ): void {
    if (!route.route || !route.spec.dns) return;
    // A gateway group's members share the rule's record: its verdict is theirs.
    const record = (outcome: Parameters<typeof ctx.outcomes.record>[2]) => {
      for (const served of routesOfRule(route)) ctx.outcomes.record(served, 'dns', outcome, at);
    };
    if (holders.get(route.hostname) !== route) {
      // Another path of this hostname holds the record, for its own tunnel: nothing to say here.
      record({ status: 'ok' });
      return;
    }
    if (!verdict || verdict.status === 'ok' || verdict.status === 'adopted') {
      record({ status: 'ok' });
    } else {
      const message = verdict.message ?? `DNS record for ${route.hostname}: ${verdict.status}`;
      record({ status: verdict.status, message });
    }
  }
}
