import Docker from 'dockerode';
import { HarnessError } from './harness-error.js';

/**
 * A dockerode client for `DOCKER_HOST` (or the default socket), checked with a ping so a test
 * without an engine fails at once with a clear message instead of timing out later.
 */
export async function connectDockerEngine(dockerHost = process.env.DOCKER_HOST): Promise<Docker> {
  const docker = dockerHost ? new Docker(dockerodeOptions(dockerHost)) : new Docker();
  try {
    await docker.ping();
  } catch (error) {
    throw new HarnessError(
      `No Docker engine at ${dockerHost ?? 'unix:///var/run/docker.sock'}: run bash scripts/provision (${(error as Error).message})`,
    );
  }
  return docker;
}

function dockerodeOptions(dockerHost: string): Docker.DockerOptions {
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return {
    host: url.hostname,
    port: Number(url.port || 2375),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
  };
}
