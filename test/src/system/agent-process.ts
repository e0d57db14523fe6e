import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_DATA_FILES } from '@tunnelfleet/common';
import { freePort } from '../harness/free-port.js';
import { CLOUDFLARED_IMAGE } from '../harness/test-images.js';
import { createNodeService, type NodeService } from './node-service.js';

const AGENT_MAIN = fileURLToPath(new URL('../../../agent/dist/main.js', import.meta.url));

interface AgentProcessOptions {
  masterUrl: string;
  apiKey: string;
  /** TUNNELFLEET_AGENT_NAME */
  name: string;
  /** DOCKER_HOST of the agent's engine, e.g. `unix:///run/docker2.sock`. */
  dockerHost: string;
  /** Holds `agent_id` and `tunnel_state.json`; kept across restarts, owned by the caller. */
  dataDir: string;
  cloudflaredNetwork: string;
  logFile: string;
  cloudflaredImage?: string;
  /** Extra or overriding variables of `agentConfigSpec`. */
  env?: Record<string, string>;
}

export interface AgentProcess extends NodeService {
  readonly name: string;
  readonly dataDir: string;
  readonly env: Readonly<Record<string, string>>;
  /** `http://127.0.0.1:<port>/healthz` of the agent. */
  readonly healthUrl: string;
  /** The id the master gave this agent, from its data dir (undefined before it registered). */
  agentId(): Promise<string | undefined>;
  /** The cached `tunnel_state.json`, or undefined. */
  tunnelState(): Promise<Record<string, unknown> | undefined>;
  /** Changes variables for the next start, as an operator edits the agent's `.env` (e.g. a new `GATEWAY_IMAGE`). */
  setEnv(overrides: Record<string, string>): void;
}

/**
 * The real agent (`node agent/dist/main.js`) configured only through its environment. Resolves
 * once its health endpoint answers (healthy or not: the master may not be reachable yet).
 */
export async function startAgentProcess(options: AgentProcessOptions): Promise<AgentProcess> {
  const healthPort = await freePort();
  const healthUrl = `http://127.0.0.1:${healthPort}/healthz`;
  const env: Record<string, string> = {
    TUNNELFLEET_MASTER_URL: options.masterUrl,
    TUNNELFLEET_API_KEY: options.apiKey,
    TUNNELFLEET_AGENT_NAME: options.name,
    DOCKER_HOST: options.dockerHost,
    CLOUDFLARED_IMAGE: options.cloudflaredImage ?? CLOUDFLARED_IMAGE,
    CLOUDFLARED_NETWORK: options.cloudflaredNetwork,
    REPORT_INTERVAL_SECONDS: '1',
    TUNNELFLEET_DATA_DIR: options.dataDir,
    TUNNELFLEET_HEALTH_PORT: String(healthPort),
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const service = createNodeService({
    label: `agent ${options.name}`,
    script: AGENT_MAIN,
    env,
    logFile: options.logFile,
    ready: async () => {
      await fetch(healthUrl);
      return true;
    },
  });
  await service.start();
  const readJson = async (file: string) => {
    const text = await readFile(join(options.dataDir, file), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
  };
  return {
    ...service,
    name: options.name,
    dataDir: options.dataDir,
    env,
    healthUrl,
    async agentId() {
      const text = await readFile(join(options.dataDir, AGENT_DATA_FILES.agentId), 'utf8').catch(() => '');
      return text.trim() || undefined;
    },
    tunnelState: () => readJson(AGENT_DATA_FILES.tunnelState),
    // The service reads this same object at each start.
    setEnv: (overrides) => Object.assign(env, overrides),
  };
}
