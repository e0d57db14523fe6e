import { connectDockerEngine, ensureTestImages, startDockerSocketProxy } from '@tunnelfleet/test';
import type { TestProject } from 'vitest/node';
import { AGENT_DOCKER_PERMISSIONS } from '../src/docker/socket-proxy-permissions.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `tcp://127.0.0.1:<port>` of the socket proxy that project `agent-via-socket-proxy` runs through. */
    socketProxyDockerHost: string;
  }
}

/**
 * globalSetup of the vitest project `agent-via-socket-proxy`: one haproxy socket proxy granting
 * only AGENT_DOCKER_PERMISSIONS, in front of the engine every test file and spawned agent uses.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Building the test images needs BUILD, which the agent must not have: build them directly.
  await ensureTestImages(await connectDockerEngine());
  const engine = process.env.DOCKER_HOST;
  const proxy = await startDockerSocketProxy({
    permissions: AGENT_DOCKER_PERMISSIONS,
    ...(engine?.startsWith('unix://') ? { socketPath: engine.slice('unix://'.length) } : {}),
  });
  project.provide('socketProxyDockerHost', proxy.dockerHost);
  return () => proxy.close();
}
