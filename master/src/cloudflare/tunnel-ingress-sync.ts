import { isDeepStrictEqual } from 'node:util';
import { withRetries } from './call-budget.js';
import type { Credentials } from './cloudflare-credentials.js';
import { IngressRuleLimitError, statusOf, TunnelNotFoundError, toLayerError } from './errors.js';
import {
  type DesiredIngressRule,
  type IngressMergeResult,
  type IngressRule,
  MAX_INGRESS_RULES,
  mergeIngress,
  ruleKey,
  sameIngress,
} from './ingress.js';

/** An operator's adoption of the foreign rule on `key`, valid only while it is still `seen`. */
export interface IngressAdoption {
  key: string;
  /** The rules on the key as the operator's diff showed them. */
  seen: readonly IngressRule[];
}

export interface TunnelIngressSyncInput {
  tunnelId: string;
  /** Every rule Tunnelfleet wants on this tunnel (the whole set, not a delta). */
  desired: readonly DesiredIngressRule[];
  /** Keys returned by the previous sync of this tunnel (persisted by the caller). */
  ownedKeys: readonly string[];
  adopt?: boolean;
  /** Foreign rules an operator adopted: taken over in the same read-merge-write, if unchanged. */
  adopting?: readonly IngressAdoption[];
}

export interface TunnelIngressSyncResult extends Omit<IngressMergeResult, 'ingress'> {
  changed: boolean;
  /** Configuration version after the sync (undefined for a tunnel that never had one). */
  version: number | undefined;
  /** Keys of `adopting` taken over, and those whose rules changed since (left foreign). */
  adopted: string[];
  staleAdoptions: string[];
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
    const owned = new Set(input.ownedKeys);
    const adopted: string[] = [];
    const staleAdoptions: string[] = [];
    for (const grant of input.adopting ?? []) {
      const onKey = currentIngress.filter((rule) => ruleKey(rule) === grant.key);
      if (isDeepStrictEqual(onKey, grant.seen)) {
        owned.add(grant.key);
        adopted.push(grant.key);
      } else {
        staleAdoptions.push(grant.key);
      }
    }
    const merged = mergeIngress({
      current: currentIngress,
      desired: input.desired,
      ownedKeys: owned,
      ...(input.adopt === undefined ? {} : { adopt: input.adopt }),
    });
    const { ingress, ...rest } = merged;
    // An untouched tunnel with nothing to publish keeps its empty configuration.
    const nothingToWrite = currentIngress.length === 0 && merged.ownedKeys.length === 0;
    if (nothingToWrite || sameIngress(currentIngress, ingress)) {
      return { ...rest, changed: false, version: current.version, adopted, staleAdoptions };
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
    return { ...rest, changed: true, version: written.version, adopted, staleAdoptions };
  } catch (err) {
    if (statusOf(err) === 404) throw new TunnelNotFoundError(input.tunnelId);
    throw toLayerError(err, handle.name, operation);
  }
}

/** The tunnel's ingress rules as Cloudflare holds them now (an operator's diff). */
export async function readTunnelIngress(creds: Credentials, tunnelId: string): Promise<IngressRule[]> {
  const handle = creds.account();
  try {
    const current = await withRetries(
      () =>
        handle.client.zeroTrust.tunnels.cloudflared.configurations.get(tunnelId, {
          account_id: creds.accountId,
        }),
      creds.retry,
    );
    return ((current.config ?? {}) as TunnelConfig).ingress ?? [];
  } catch (err) {
    if (statusOf(err) === 404) throw new TunnelNotFoundError(tunnelId);
    throw toLayerError(err, handle.name, `read the ingress of tunnel ${tunnelId}`);
  }
}
