import { withRetries } from './call-budget.js';
import type { Credentials } from './cloudflare-credentials.js';
import { IngressRuleLimitError, statusOf, TunnelNotFoundError, toLayerError } from './errors.js';
import {
  type DesiredIngressRule,
  type IngressMergeResult,
  type IngressRule,
  MAX_INGRESS_RULES,
  mergeIngress,
  sameIngress,
} from './ingress.js';

export interface TunnelIngressSyncInput {
  tunnelId: string;
  /** Every rule Tunnelfleet wants on this tunnel (the whole set, not a delta). */
  desired: readonly DesiredIngressRule[];
  /** Keys returned by the previous sync of this tunnel (persisted by the caller). */
  ownedKeys: readonly string[];
  adopt?: boolean;
}

export interface TunnelIngressSyncResult extends Omit<IngressMergeResult, 'ingress'> {
  changed: boolean;
  /** Configuration version after the sync (undefined for a tunnel that never had one). */
  version: number | undefined;
}

type TunnelConfig = { ingress?: IngressRule[] } & Record<string, unknown>;

/**
 * Reads the tunnel's configuration, merges our rules in (see `mergeIngress`) and writes it back
 * with one PUT, or with none when nothing changed. Keys other than `ingress` (originRequest
 * defaults, warp-routing, …) are sent back as they were read.
 */
export async function syncTunnelIngress(
  creds: Credentials,
  input: TunnelIngressSyncInput,
): Promise<TunnelIngressSyncResult> {
  const handle = creds.account();
  const api = handle.client.zeroTrust.tunnels.cloudflared.configurations;
  const account_id = creds.accountId;
  const operation = `sync ingress of tunnel ${input.tunnelId}`;
  try {
    const current = await withRetries(() => api.get(input.tunnelId, { account_id }), creds.retry);
    const config = (current.config ?? {}) as TunnelConfig;
    const currentIngress = config.ingress ?? [];
    const merged = mergeIngress({
      current: currentIngress,
      desired: input.desired,
      ownedKeys: input.ownedKeys,
      ...(input.adopt === undefined ? {} : { adopt: input.adopt }),
    });
    const { ingress, ...rest } = merged;
    // An untouched tunnel with nothing to publish keeps its empty configuration.
    const nothingToWrite = currentIngress.length === 0 && merged.ownedKeys.length === 0;
    if (nothingToWrite || sameIngress(currentIngress, ingress)) {
      return { ...rest, changed: false, version: current.version };
    }
    if (ingress.length > MAX_INGRESS_RULES) {
      throw new IngressRuleLimitError(input.tunnelId, ingress.length, MAX_INGRESS_RULES);
    }
    const next = { ...config, ingress };
    // A PUT of the whole document is safe to repeat.
    const written = await withRetries(
      // The SDK's type wants a hostname on every rule; the live API wants none on the catch-all.
      () => api.update(input.tunnelId, { account_id, config: next as never }),
      creds.retry,
    );
    return { ...rest, changed: true, version: written.version };
  } catch (err) {
    if (statusOf(err) === 404) throw new TunnelNotFoundError(input.tunnelId);
    throw toLayerError(err, handle.name, operation);
  }
}
