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

/** File names inside the agent data dir. */
export const AGENT_DATA_FILES = {
  agentId: 'agent_id',
  tunnelState: 'tunnel_state.json',
} as const;
