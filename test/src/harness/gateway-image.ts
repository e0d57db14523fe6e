import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** The engine's own socket: in the socket-proxy project DOCKER_HOST is a proxy that allows no build. */
const { DOCKER_HOST: _proxy, ...ENGINE_ENV } = process.env;
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
    await run(
      'docker',
      [
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
      ],
      { maxBuffer: 16 * 1024 * 1024, env: ENGINE_ENV },
    );
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
  await run('docker', ['volume', 'rm', '-f', name], { env: ENGINE_ENV }).catch(() => undefined);
}
