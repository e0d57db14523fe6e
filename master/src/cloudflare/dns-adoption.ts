import { withRetries } from './call-budget.js';
import { type Credentials, normalizeHostname } from './cloudflare-credentials.js';
import { ownershipComment } from './dns.js';
import { type CurrentDnsRecord, type TunnelCname, tunnelCname } from './dns-plan.js';
import { toLayerError } from './errors.js';
import { listAll } from './pagination.js';

/** The records on one name, as Cloudflare holds them now. */
export interface DnsName {
  zoneId: string;
  hostname: string;
  records: CurrentDnsRecord[];
}

/** Every record on `hostname` (ours and foreign), read afresh: what an operator's diff shows. */
export async function readDnsName(creds: Credentials, hostname: string, zone?: string): Promise<DnsName> {
  const name = normalizeHostname(hostname);
  const { zoneId, token } = await creds.resolveZone(name, zone);
  try {
    const records = await listAll(
      () => token.client.dns.records.list({ zone_id: zoneId, name: { exact: name }, per_page: 100 }),
      creds.retry,
    );
    return { zoneId, hostname: name, records };
  } catch (err) {
    throw toLayerError(err, token.name, `read the DNS records of ${name}`);
  }
}

/** The CNAME Tunnelfleet writes for `owner` on `hostname`: what adopting a record turns it into. */
export function ownedCname(hostname: string, owner: string, tunnelId: string): TunnelCname {
  return tunnelCname(normalizeHostname(hostname), { tunnelId }, ownershipComment(owner));
}

/**
 * Writes our CNAME over an existing record (same id): a record an operator adopted. From then on
 * its comment marks it as the owner's, and the zone's syncs keep it like any record we created.
 */
export async function overwriteDnsRecord(
  creds: Credentials,
  target: { hostname: string; zone?: string; recordId: string; record: TunnelCname },
): Promise<void> {
  const { zoneId, token } = await creds.resolveZone(normalizeHostname(target.hostname), target.zone);
  try {
    await withRetries(
      () => token.client.dns.records.update(target.recordId, { zone_id: zoneId, ...target.record }),
      creds.retry,
    );
  } catch (err) {
    throw toLayerError(err, token.name, `write the adopted record of ${target.hostname}`);
  }
}
