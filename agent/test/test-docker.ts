import { connectDockerEngine, ensureTestImages, TEST_BUSYBOX_IMAGE } from '@tunnelfleet/test';
import type Docker from 'dockerode';

/** The engine of DOCKER_HOST (the socket proxy in the `agent-via-socket-proxy` project) with the test images. */
export async function connectTestDocker(): Promise<Docker> {
  const docker = await connectDockerEngine();
  await ensureTestImages(docker);
  return docker;
}

/** Force-removes these containers, then these networks; one already gone is fine. */
export async function removeLeftovers(
  docker: Docker,
  leftovers: { containers?: readonly string[]; networks?: readonly string[] },
): Promise<void> {
  const quietly = (removal: Promise<unknown>) => removal.catch(() => undefined);
  await Promise.all(
    (leftovers.containers ?? []).map((id) => quietly(docker.getContainer(id).remove({ force: true }))),
  );
  await Promise.all((leftovers.networks ?? []).map((id) => quietly(docker.getNetwork(id).remove())));
}

/**
 * `wget` of `url` from a throwaway container on `network`, as a published container would try it:
 * `reached` (200) or `unreachable`.
 */
export async function fetchFromNetwork(
  docker: Docker,
  network: string,
  url: string,
): Promise<'reached' | 'unreachable'> {
  const container = await docker.createContainer({
    Image: TEST_BUSYBOX_IMAGE,
    Cmd: [
      'sh',
      '-c',
      `if timeout 5 wget -q -O /dev/null ${url}; then echo REACHED; else echo UNREACHABLE; fi`,
    ],
    HostConfig: { NetworkMode: network },
  });
  try {
    await container.start();
    await container.wait();
    const output = (await container.logs({ stdout: true, stderr: true })).toString();
    return output.includes('REACHED') && !output.includes('UNREACHABLE') ? 'reached' : 'unreachable';
  } finally {
    await container.remove({ force: true });
  }
}
