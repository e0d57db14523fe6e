import type { CloudflaredTunnelOptions } from '@tunnelfleet/common';
import { type CloudflaredConfig, findCloudflaredConfig } from '../store/cloudflared-configs.js';
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

export function effectiveCloudflared(
  db: SqliteDatabase,
  agentId: string,
  defaultImage: string,
): EffectiveCloudflared {
  return mergeCloudflared(defaultImage, findCloudflaredConfig(db, null), findCloudflaredConfig(db, agentId));
}
