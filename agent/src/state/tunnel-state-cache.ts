import { chmod, mkdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AGENT_DATA_FILES,
  identifierSchema,
  type Logger,
  type SharedTunnelsState,
  sharedTunnelsStateSchema,
  type TunnelState,
  tunnelStateSchema,
} from '@tunnelfleet/common';
import type { z } from 'zod';
import { writeFileAtomic } from './atomic-write.js';

/** Every file identifies the agent or holds a tunnel token: owner-only. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

interface TunnelStateCacheOptions {
  dataDir: string;
  logger: Logger;
}

export interface TunnelStateCache {
  /** The cached tunnel, or undefined when there is none or the file was unusable (then set aside). */
  readTunnelState(): Promise<TunnelState | undefined>;
  writeTunnelState(state: TunnelState): Promise<void>;
  /** The shared tunnels' connectors, as the last join or leave left them; empty when none. */
  readSharedTunnels(): Promise<SharedTunnelsState>;
  writeSharedTunnels(state: SharedTunnelsState): Promise<void>;
  readAgentId(): Promise<string | undefined>;
  writeAgentId(agentId: string): Promise<void>;
}

/**
 * The agent's data dir: what it needs to bring cloudflared back before it reaches the master.
 * A damaged file is moved to `<name>.corrupt` and treated as absent, so the agent still starts.
 */
export function createTunnelStateCache({ dataDir, logger }: TunnelStateCacheOptions): TunnelStateCache {
  const tunnelStatePath = join(dataDir, AGENT_DATA_FILES.tunnelState);
  const agentIdPath = join(dataDir, AGENT_DATA_FILES.agentId);
  const sharedTunnelsPath = join(dataDir, AGENT_DATA_FILES.sharedTunnels);

  const ensureDir = () => mkdir(dataDir, { recursive: true, mode: DIR_MODE });

  const setAside = async (path: string, problem: string) => {
    const corruptPath = `${path}.corrupt`;
    // Only the problem is logged, never the content: the file may hold a token.
    logger.warn({ file: path, movedTo: corruptPath, problem }, 'ignoring an unreadable state file');
    try {
      await rename(path, corruptPath);
      await chmod(corruptPath, FILE_MODE);
    } catch (error) {
      logger.error({ err: error, file: path }, 'cannot move the unreadable state file aside');
    }
  };

  /** Reads, then validates with `schema`; undefined if missing or set aside. */
  const read = async <T>(path: string, decode: (text: string) => unknown, schema: z.ZodType<T>) => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    if (((await stat(path)).mode & 0o077) !== 0) {
      logger.warn({ file: path }, 'state file was readable by others; restricting it to its owner');
      await chmod(path, FILE_MODE);
    }
    let json: unknown;
    try {
      json = decode(text);
    } catch {
      // JSON.parse's message quotes the input, which may be a token: say only what is wrong.
      await setAside(path, 'not valid JSON');
      return undefined;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const problem = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`)
        .join('; ');
      await setAside(path, problem);
      return undefined;
    }
    return parsed.data;
  };

  return {
    readTunnelState: () => read(tunnelStatePath, JSON.parse, tunnelStateSchema),
    async writeTunnelState(state) {
      const valid = tunnelStateSchema.parse(state);
      await ensureDir();
      await writeFileAtomic(tunnelStatePath, `${JSON.stringify(valid, null, 2)}\n`, FILE_MODE);
    },
    async readSharedTunnels() {
      return (
        (await read(sharedTunnelsPath, JSON.parse, sharedTunnelsStateSchema)) ?? {
          schemaVersion: 1,
          tunnels: [],
        }
      );
    },
    async writeSharedTunnels(state) {
      const valid = sharedTunnelsStateSchema.parse(state);
      await ensureDir();
      await writeFileAtomic(sharedTunnelsPath, `${JSON.stringify(valid, null, 2)}\n`, FILE_MODE);
    },
    readAgentId: () => read(agentIdPath, (text) => text.trim(), identifierSchema),
    async writeAgentId(agentId) {
      const valid = identifierSchema.parse(agentId);
      await ensureDir();
      await writeFileAtomic(agentIdPath, `${valid}\n`, FILE_MODE);
    },
  };
}
