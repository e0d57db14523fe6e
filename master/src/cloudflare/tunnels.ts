import { randomBytes } from 'node:crypto';
import { withRetries } from './call-budget.js';
import type { Credentials } from './cloudflare-credentials.js';
import { statusOf, TunnelNotFoundError, toLayerError } from './errors.js';
import { listAll } from './pagination.js';

interface TunnelRef {
  tunnelId: string;
  name: string;
}

interface EnsuredTunnel extends TunnelRef {
  created: boolean;
}

interface TunnelConnection {
  clientId: string;
  version?: string;
  connectedAt?: string;
  connections: number;
}

export interface Tunnels {
  /** The remotely managed tunnel with this name, created if missing. Never makes two. */
  ensureTunnel(name: string): Promise<EnsuredTunnel>;
  findTunnel(name: string): Promise<TunnelRef | undefined>;
  getToken(tunnelId: string): Promise<string>;
  /** Sets a new tunnel secret (the old token stops working) and returns the new token. */
  rotateToken(tunnelId: string): Promise<string>;
  /** Cleans up connectors, then deletes; a tunnel already gone is not an error. */
  deleteTunnel(tunnelId: string): Promise<void>;
  listConnections(tunnelId: string): Promise<TunnelConnection[]>;
}

// Cloudflare wants at least 32 random bytes, base64-encoded.
const newTunnelSecret = () => randomBytes(32).toString('base64');

export function createTunnels(creds: Credentials): Tunnels {
  const account_id = creds.accountId;
  const handle = creds.account();
  const api = handle.client.zeroTrust.tunnels.cloudflared;
  const retry = creds.retry;

  const guard = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toLayerError(err, handle.name, operation);
    }
  };

  const findTunnel = (name: string) =>
    guard(`find tunnel ${name}`, async () => {
      const found = await listAll(
        () => api.list({ account_id, name, is_deleted: false, per_page: 50 }),
        retry,
      );
      const tunnel = found.find((t) => t.name === name && !t.deleted_at && t.id);
      return tunnel ? { tunnelId: tunnel.id!, name } : undefined;
    });

  const ensureTunnel = (name: string) =>
    guard(`create tunnel ${name}`, () =>
      // Look up before every create attempt: a create whose reply was lost (5xx, dropped
      // connection) may have happened, and a second create would make a duplicate.
      withRetries(async () => {
        const existing = await findTunnel(name);
        if (existing) return { ...existing, created: false };
        try {
          const tunnel = await api.create({
            account_id,
            name,
            config_src: 'cloudflare',
            tunnel_secret: newTunnelSecret(),
          });
          return { tunnelId: tunnel.id!, name, created: true };
        } catch (err) {
          // Someone else created it between our look-up and our create.
          const status = statusOf(err);
          if (status === 409 || status === 400) {
            const raced = await findTunnel(name);
            if (raced) return { ...raced, created: false };
          }
          throw err;
        }
      }, retry),
    );

  const getToken = (tunnelId: string) =>
    guard(`get token of tunnel ${tunnelId}`, async () => {
      try {
        return await withRetries(() => api.token.get(tunnelId, { account_id }), retry);
      } catch (err) {
        if (statusOf(err) === 404) throw new TunnelNotFoundError(tunnelId);
        throw err;
      }
    });

  const rotateToken = async (tunnelId: string) => {
    await guard(`rotate token of tunnel ${tunnelId}`, async () => {
      try {
        // Setting a fresh secret is idempotent in effect: a retry just sets another one.
        await withRetries(() => api.edit(tunnelId, { account_id, tunnel_secret: newTunnelSecret() }), retry);
      } catch (err) {
        if (statusOf(err) === 404) throw new TunnelNotFoundError(tunnelId);
        throw err;
      }
    });
    return getToken(tunnelId);
  };

  const deleteTunnel = (tunnelId: string) =>
    guard(`delete tunnel ${tunnelId}`, async () => {
      try {
        // Cloudflare refuses to delete a tunnel that still has connectors.
        await withRetries(() => api.connections.delete(tunnelId, { account_id }), retry);
        await withRetries(() => api.delete(tunnelId, { account_id }), retry);
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    });

  const listConnections = (tunnelId: string) =>
    guard(`list connections of tunnel ${tunnelId}`, async () => {
      try {
        const page = await withRetries(() => api.connections.get(tunnelId, { account_id }), retry);
        return page.result.map((c) => ({
          clientId: c.id ?? '',
          ...(c.version ? { version: c.version } : {}),
          ...(c.run_at ? { connectedAt: c.run_at } : {}),
          connections: c.conns?.length ?? 0,
        }));
      } catch (err) {
        if (statusOf(err) === 404) throw new TunnelNotFoundError(tunnelId);
        throw err;
      }
    });

  return { ensureTunnel, findTunnel, getToken, rotateToken, deleteTunnel, listConnections };
}
