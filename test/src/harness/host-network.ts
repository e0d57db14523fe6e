import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { withFileLock } from './file-lock.js';
import { HarnessError } from './harness-error.js';

/** The user-defined network the harness owns on an engine; kept between runs like the test images. */
export const HOST_NETWORK_NAME = 'tunnelfleet-test-host';

/** On every network the harness creates, so a human can find them. */
export const TEST_NETWORK_LABEL = 'org.tunnelfleet-test.network';

/**
 * An address of this host that the engine's containers reach, on any of its networks: the gateway
 * of a user-defined network the harness creates if missing. It is never read from the default
 * bridge: after dockerd's first start on a fresh machine, `bridge` has no `Gateway` in its IPAM
 * config and `docker0` is down (no carrier) until a container attaches, so neither Docker nor
 * `os.networkInterfaces()` names it. A user network's gateway is a local address of the host from
 * the moment the network exists, even with no container on it, so the kernel delivers packets
 * sent to it from any bridge to the host itself.
 */
export async function hostAddressForEngine(docker: Docker): Promise<string> {
  const network = await ensureHostNetwork(docker);
  const gateway = network.IPAM?.Config?.find((config) => config.Gateway)?.Gateway;
  if (!gateway) {
    throw new HarnessError(
      `network ${HOST_NETWORK_NAME} has no gateway in its IPAM config (${JSON.stringify(network.IPAM?.Config ?? [])})`,
    );
  }
  return gateway;
}

async function ensureHostNetwork(docker: Docker): Promise<Docker.NetworkInspectInfo> {
  const existing = await inspectNetwork(docker);
  if (existing) return existing;
  // Test files in parallel processes may all find it missing, and the engine's CheckDuplicate
  // does not stop two creations racing: a machine-wide lock makes one process create it.
  return withFileLock(join(tmpdir(), 'tunnelfleet-test-host-network.lock'), async () => {
    const created = await inspectNetwork(docker);
    if (created) return created;
    await docker
      .createNetwork({
        Name: HOST_NETWORK_NAME,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: { [TEST_NETWORK_LABEL]: 'host-address' },
      })
      .catch((error: Error) => {
        throw new HarnessError(`could not create network ${HOST_NETWORK_NAME}: ${error.message}`);
      });
    const inspected = await inspectNetwork(docker);
    if (!inspected)
      throw new HarnessError(`network ${HOST_NETWORK_NAME} vanished right after it was created`);
    return inspected;
  });
}

async function inspectNetwork(docker: Docker): Promise<Docker.NetworkInspectInfo | undefined> {
  try {
    return (await docker.getNetwork(HOST_NETWORK_NAME).inspect()) as Docker.NetworkInspectInfo;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}
