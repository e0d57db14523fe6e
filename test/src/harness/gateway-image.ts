import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { dockerCli, ENGINE_ENV } from './docker-cli.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The agent image the gateway tests run, built from this workspace's agent/dist. */
export const GATEWAY_TEST_IMAGE = 'tunnelfleet-test/agent-gateway:latest';

/**
 * Builds the agent image (the Dockerfile's offline "prebuilt" target on the local node base) from
 * the built workspace, as `deploy/build-images.sh --local` does, under a test tag of its own.
 */
export async function buildGatewayTestImage(): Promise<string> {
  const stage = await mkdtemp(join(tmpdir(), 'gateway-image-'));
  try {
    await run('bash', [`${root}deploy/build-local-base.sh`], {
      maxBuffer: 16 * 1024 * 1024,
      env: ENGINE_ENV,
    });
    await run('bash', [`${root}deploy/build-app.sh`, 'agent', `${stage}/agent`], {
      maxBuffer: 16 * 1024 * 1024,
    });
    await dockerCli([
      'build',
      '-q',
      '--network',
      'none',
      '-f',
      `${root}deploy/agent.Dockerfile`,
      '--target',
      'prebuilt',
      '--build-arg',
      'NODE_IMAGE=tunnelfleet-local/node:20',
      '-t',
      GATEWAY_TEST_IMAGE,
      `${stage}/agent`,
    ]);
    return GATEWAY_TEST_IMAGE;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/**
 * Removes a gateway's table volume through the engine's own socket: the socket proxy of the
 * `agent-via-socket-proxy` project grants no volume call (the agent never needs one).
 */
export async function removeGatewayVolume(name: string): Promise<void> {
  await dockerCli(['volume', 'rm', '-f', name]).catch(() => undefined);
}
