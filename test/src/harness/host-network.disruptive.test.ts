import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDockerEngine } from './docker-engine.js';
import { restartDockerdAsFresh } from './dockerd-control.js';
import { HOST_NETWORK_NAME, hostAddressForEngine } from './host-network.js';
import { TEST_CONTAINER_LABEL } from './test-containers.js';
import { ensureTestImages, TEST_BUSYBOX_IMAGE } from './test-images.js';
import { uniqueName } from './unique-name.js';

// Restarts the machine's Docker engine with its network store wiped: runs in the `disruptive`
// project, alone.
let docker: Docker;
let server: Server;
const containerIds: string[] = [];

beforeAll(async () => {
  docker = await connectDockerEngine();
  await ensureTestImages(docker);
  server = createServer((_request, response) => response.end('reached the host'));
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
});

afterAll(async () => {
  await Promise.all(
    containerIds.map((id) =>
      docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
  await new Promise((resolve) => server.close(resolve));
});

/**
 * Sends an HTTP request with busybox `nc` from a container on the engine's default bridge and
 * returns the response (the static busybox's `wget` crashes in resolving, even an IP literal).
 */
async function fetchFromDefaultBridge(address: string, port: number): Promise<string> {
  const container = await docker.createContainer({
    name: uniqueName('tf-host-net'),
    Image: TEST_BUSYBOX_IMAGE,
    Cmd: ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${address} ${port}`],
    Labels: { [TEST_CONTAINER_LABEL]: 'host-network' },
    HostConfig: { Init: true },
  });
  containerIds.push(container.id);
  await container.start();
  const { StatusCode } = (await container.wait()) as { StatusCode: number };
  const logs = (await container.logs({ stdout: true, stderr: true })).toString('utf8');
  expect(StatusCode, `nc in the container failed: ${logs}`).toBe(0);
  return logs;
}

describe('the host address containers reach', () => {
  it('is found when the default bridge has no gateway in its IPAM config, as on a fresh machine', async () => {
    await restartDockerdAsFresh(docker);
    const bridge = await docker.getNetwork('bridge').inspect();
    // The state a fresh machine is in; if the engine ever fills the gateway in, this case is moot.
    expect(bridge.IPAM?.Config).toEqual([{ Subnet: expect.any(String) }]);
    await expect(docker.getNetwork(HOST_NETWORK_NAME).inspect()).rejects.toMatchObject({ statusCode: 404 });

    const hostAddress = await hostAddressForEngine(docker);

    const { port } = server.address() as AddressInfo;
    expect(await fetchFromDefaultBridge(hostAddress, port)).toContain('reached the host');
    // A second caller gets the same address from the network the first created.
    expect(await hostAddressForEngine(docker)).toBe(hostAddress);
  });

  it('is the same for concurrent callers, with one network created', async () => {
    await docker.getNetwork(HOST_NETWORK_NAME).remove();
    const addresses = await Promise.all([hostAddressForEngine(docker), hostAddressForEngine(docker)]);
    expect(new Set(addresses).size).toBe(1);
    const networks = await docker.listNetworks({ filters: { name: [HOST_NETWORK_NAME] } });
    expect(networks.filter((network) => network.Name === HOST_NETWORK_NAME)).toHaveLength(1);
  });
});
