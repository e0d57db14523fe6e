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

/** How long a look-up by name waits for others to share its list call. */
const FIND_BATCH_MS = 25;

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

  /**
   * Finds tunnels by name. Look-ups that arrive together (a fleet enrolling, a master catching up
   * after a restart) share one list call: the names waiting when the batch goes out are read
   * with one `include_prefix` list of their common prefix, paged, instead of one list each.
   */
  const pendingFinds = new Map<string, ((found: TunnelRef | undefined | Error) => void)[]>();
  let batchArmed = false;
  const findBatch = async () => {
    batchArmed = false;
    const waiting = new Map(pendingFinds);
    pendingFinds.clear();
    const names = [...waiting.keys()];
    let answer: (name: string) => TunnelRef | undefined | Error;
    try {
      const prefix = commonPrefix(names);
      const query = names.length === 1 ? { name: names[0]! } : prefix ? { include_prefix: prefix } : {};
      const found = await listAll(
        () => api.list({ account_id, ...query, is_deleted: false, per_page: names.length === 1 ? 50 : 1000 }),
        retry,
      );
      const byName = new Map<string, TunnelRef>();
      for (const t of found) {
        if (t.name && t.id && !t.deleted_at && waiting.has(t.name))
          byName.set(t.name, { tunnelId: t.id, name: t.name });
      }
      answer = (name) => byName.get(name);
    } catch (err) {
      answer = () => (err instanceof Error ? err : new Error(String(err)));
    }
    for (const [name, callers] of waiting) for (const resolve of callers) resolve(answer(name));
  };

  const findTunnel = (name: string) =>
    guard(`find tunnel ${name}`, async () => {
      const found = await new Promise<TunnelRef | undefined | Error>((resolve) => {
        pendingFinds.set(name, [...(pendingFinds.get(name) ?? []), resolve]);
        if (!batchArmed) {
          batchArmed = true;
          // Look-ups of the next few milliseconds join the batch: a fleet's refused creates come
          // back spread over a moment, not in one turn of the event loop.
          setTimeout(() => void findBatch(), FIND_BATCH_MS);
        }
      });
      if (found instanceof Error) throw found;
      return found;
    });

  const ensureTunnel = (name: string) =>
    guard(`create tunnel ${name}`, () =>
      // Create first: Cloudflare refuses a second live tunnel with the same name (409, code 1013),
      // so a create whose reply was lost (5xx, dropped connection) and is tried again, or a tunnel
      // made before a restart, is found by name then, and a new host costs one call, not two.
      withRetries(async () => {
        try {
          const tunnel = await api.create({
            account_id,
            name,
            config_src: 'cloudflare',
            tunnel_secret: newTunnelSecret(),
          });
          return { tunnelId: tunnel.id!, name, created: true };
        } catch (err) {
          const status = statusOf(err);
          if (status === 409 || status === 400) {
            const existing = await findTunnel(name);
            if (existing) return { ...existing, created: false };
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

function commonPrefix(names: readonly string[]): string {
  let prefix = names[0] ?? '';
  for (const name of names) while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}
