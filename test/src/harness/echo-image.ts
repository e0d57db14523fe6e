import { fileURLToPath } from 'node:url';
import { dockerCli } from './docker-cli.js';
import { GATEWAY_TEST_IMAGE } from './gateway-image.js';

const CONTEXT = fileURLToPath(new URL('../../images/echo/', import.meta.url));

/** The echo backend and load client of test/images/echo (see its scripts for what they answer). */
export const ECHO_TEST_IMAGE = 'tunnelfleet-test/echo:latest';

/**
 * Builds test/images/echo on the agent's test image (node, no registry): call after
 * `buildGatewayTestImage`. Offline (`--network none`) and quick once its layers are cached.
 */
export async function buildEchoTestImage(): Promise<string> {
  await dockerCli([
    'build',
    '-q',
    '--network',
    'none',
    '--build-arg',
    `BASE=${GATEWAY_TEST_IMAGE}`,
    '-t',
    ECHO_TEST_IMAGE,
    CONTEXT,
  ]);
  return ECHO_TEST_IMAGE;
}
