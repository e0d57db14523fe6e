import { connectDockerEngine, ensureTestImages } from '@tunnelfleet/test';
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
