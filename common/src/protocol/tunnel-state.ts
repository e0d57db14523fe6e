import { z } from 'zod';
import { cloudflaredSettingsSchema } from './command.js';
import {
  counterSchema,
  imageRefSchema,
  nameSchema,
  timestampSchema,
  tunnelIdSchema,
  tunnelTokenSchema,
} from './primitives.js';

/**
 * `<data dir>/tunnel_state.json`: the last tunnel the master asked for, so the agent can bring
 * cloudflared back before it reaches the master. Holds the token: write it with mode 0600.
 */
export const tunnelStateSchema = z.strictObject({
  /** Bumped if the file's shape ever changes incompatibly. */
  schemaVersion: z.literal(1),
  tunnelId: tunnelIdSchema,
  tunnelName: nameSchema,
  token: tunnelTokenSchema,
  cloudflaredImage: imageRefSchema,
  settings: cloudflaredSettingsSchema.optional(),
  desiredState: z.enum(['running', 'stopped']),
  /** Version of the command that produced this state. */
  version: counterSchema,
  updatedAt: timestampSchema,
});
export type TunnelState = z.infer<typeof tunnelStateSchema>;

/**
 * `<data dir>/shared_tunnels.json`: the shared tunnels this agent runs a connector for, as the last
 * `join_shared_tunnel` / `leave_shared_tunnel` left them, so their connectors come back before the
 * master is reached. Holds their tokens: mode 0600.
 */
export const sharedTunnelsStateSchema = z.strictObject({
  schemaVersion: z.literal(1),
  tunnels: z
    .array(
      z.strictObject({
        tunnelId: tunnelIdSchema,
        tunnelName: nameSchema,
        token: tunnelTokenSchema,
        cloudflaredImage: imageRefSchema,
        settings: cloudflaredSettingsSchema.optional(),
        /** Version of the command that produced this entry. */
        version: counterSchema,
        updatedAt: timestampSchema,
      }),
    )
    .max(100),
});
export type SharedTunnelsState = z.infer<typeof sharedTunnelsStateSchema>;
export type SharedTunnelState = SharedTunnelsState['tunnels'][number];

/** File names inside the agent data dir. */
export const AGENT_DATA_FILES = {
  agentId: 'agent_id',
  tunnelState: 'tunnel_state.json',
  sharedTunnels: 'shared_tunnels.json',
} as const;
