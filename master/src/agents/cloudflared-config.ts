import type { CloudflaredTunnelOptions } from '@tunnelfleet/common';
import { type CloudflaredConfig, findCloudflaredConfig } from '../store/cloudflared-configs.js';
import { findRunningRollout, findRunningRolloutHost } from '../store/cloudflared-rollouts.js';
import type { SqliteDatabase } from '../store/database.js';

/** The image and settings an agent is sent: its override over the fleet default over the master's. */
export interface EffectiveCloudflared {
  image: string;
  settings: CloudflaredTunnelOptions;
  overridden: boolean;
}

/** Field by field: a setting the override leaves out is the fleet's. */
export function mergeCloudflared(
  defaultImage: string,
  fleet: Pick<CloudflaredConfig, 'image' | 'settings'> | undefined,
  override: Pick<CloudflaredConfig, 'image' | 'settings'> | undefined,
): EffectiveCloudflared {
  return {
    image: override?.image ?? fleet?.image ?? defaultImage,
    settings: { ...fleet?.settings, ...override?.settings },
    // An override that names nothing (`cloudflared set --agent ID` alone) is the fleet's choice.
    overridden:
      override !== undefined && (override.image !== null || Object.keys(override.settings).length > 0),
  };
}

/**
 * While a rollout runs, the fleet's image is the new one only for the hosts it has reached (sent
 * it, or found ready on it); every other host that follows the fleet runs the previous image, even
 * one that registers meanwhile. A host with an image of its own is never part of a rollout.
 */
function rolloutImage(db: SqliteDatabase, agentId: string): string | undefined {
  const part = findRunningRolloutHost(db, agentId);
  if (part) {
    const reached = part.host.state === 'upgrading' || part.host.state === 'ready';
    return reached ? part.rollout.image : part.rollout.previousImage;
  }
  return findRunningRollout(db)?.previousImage;
}

export function effectiveCloudflared(
  db: SqliteDatabase,
  agentId: string,
  defaultImage: string,
): EffectiveCloudflared {
  const override = findCloudflaredConfig(db, agentId);
  const merged = mergeCloudflared(defaultImage, findCloudflaredConfig(db, null), override);
  if (override?.image != null) return merged;
  return { ...merged, image: rolloutImage(db, agentId) ?? merged.image };
}
