import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GATEWAY_TEST_IMAGE } from './gateway-image.js';

const run = promisify(execFile);
/** The engine's own socket: in the socket-proxy project DOCKER_HOST is a proxy that allows no build. */
const { DOCKER_HOST: _proxy, ...ENGINE_ENV } = process.env;
const CONTEXT = fileURLToPath(new URL('../../images/echo/', import.meta.url));

/** The echo backend and load client of test/images/echo (see its scripts for what they answer). */
export const ECHO_TEST_IMAGE = 'tunnelfleet-test/echo:latest';

/**
 * Builds test/images/echo on the agent's test image (node, no registry): call after
 * `buildGatewayTestImage`. Offline (`--network none`) and quick once its layers are cached.
 */
export async function buildEchoTestImage(): Promise<string> {
  await run(
    'docker',
    [
      'build',
      '-q',
      '--network',
      'none',
      '--build-arg',
      `BASE=${GATEWAY_TEST_IMAGE}`,
      '-t',
      ECHO_TEST_IMAGE,
      CONTEXT,
    ],
    { maxBuffer: 16 * 1024 * 1024, env: ENGINE_ENV },
  );
  return ECHO_TEST_IMAGE;
}
