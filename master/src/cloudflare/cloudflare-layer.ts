import { createKeyedMutex, type Logger } from '@tunnelfleet/common';
import { type AccessSyncInput, type AccessSyncResult, syncAccessApps } from './access.js';
import type { CallCounters } from './call-budget.js';
import { type CloudflareConfig, createCredentials, type ResolvedZone } from './cloudflare-credentials.js';
import { type DnsOptions, type DnsSyncInput, type DnsSyncResult, syncDnsRecords } from './dns.js';
import { toLayerError } from './errors.js';
import {
  syncTunnelIngress,
  type TunnelIngressSyncInput,
  type TunnelIngressSyncResult,
} from './tunnel-ingress-sync.js';
import { createTunnels, type Tunnels } from './tunnels.js';

export interface CloudflareLayerConfig extends CloudflareConfig {
  dns?: DnsOptions;
}

interface TokenCheck {
  name: string;
  ok: boolean;
  message: string;
}

export interface CloudflareLayer {
  tunnels: Tunnels;
  syncTunnelIngress(input: TunnelIngressSyncInput): Promise<TunnelIngressSyncResult>;
  syncDnsRecords(input: DnsSyncInput): Promise<DnsSyncResult>;
  syncAccessApps(input: AccessSyncInput): Promise<AccessSyncResult>;
  resolveZone(hostname: string, zone?: string): Promise<ResolvedZone>;
  invalidateZones(tokenName?: string): void;
  /** Asks Cloudflare whether each configured token is valid and active. */
  verifyTokens(): Promise<TokenCheck[]>;
  /** Calls per token name, by result (for metrics). */
  callCounters(): Record<string, CallCounters>;
}

/**
 * The master's one door to Cloudflare. Syncs of the same tunnel, DNS owner or Access scope run
 * one after the other (each is read-merge-write, so two at once could undo each other).
 */
export function createCloudflareLayer(config: CloudflareLayerConfig, logger: Logger): CloudflareLayer {
  const creds = createCredentials(config);
  const log = logger.child({ component: 'cloudflare' });
  const mutex = createKeyedMutex();

  return {
    tunnels: createTunnels(creds),
    syncTunnelIngress: (input) =>
      mutex.run(`ingress:${input.tunnelId}`, async () => {
        const result = await syncTunnelIngress(creds, input);
        log.info(
          {
            tunnelId: input.tunnelId,
            changed: result.changed,
            version: result.version,
            rules: result.ownedKeys.length,
            conflicts: result.conflicts,
            shadowed: result.shadowed,
            rejected: result.rejected,
          },
          'tunnel ingress synced',
        );
        return result;
      }),
    syncDnsRecords: (input) =>
      mutex.run(`dns:${input.owner}`, async () => {
        const result = await syncDnsRecords(creds, input, config.dns);
        const problems = Object.entries(result.hostnames).filter(([, r]) => r.status !== 'ok');
        log.info(
          { owner: input.owner, records: result.owned.length, deleted: result.deleted.length, problems },
          'DNS records synced',
        );
        return result;
      }),
    syncAccessApps: (input) =>
      mutex.run('access', async () => {
        const result = await syncAccessApps(creds, input);
        log.info(
          { apps: result.ownedAppIds.length, deleted: result.deletedAppIds.length },
          'Access applications synced',
        );
        return result;
      }),
    resolveZone: (hostname, zone) => creds.resolveZone(hostname, zone),
    invalidateZones: (tokenName) => creds.invalidateZones(tokenName),
    verifyTokens: () =>
      Promise.all(
        creds.handles().map(async (handle) => {
          try {
            const reply = await handle.client.user.tokens.verify();
            return { name: handle.name, ok: reply.status === 'active', message: `token is ${reply.status}` };
          } catch (err) {
            return {
              name: handle.name,
              ok: false,
              message: toLayerError(err, handle.name, 'verify token').message,
            };
          }
        }),
      ),
    callCounters: () => Object.fromEntries(creds.handles().map((h) => [h.name, h.budget.counters()])),
  };
}
