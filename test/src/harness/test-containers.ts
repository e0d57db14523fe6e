import type Docker from 'dockerode';
import { HarnessError } from './harness-error.js';
import { ensureTestImages, TEST_WEB_IMAGE } from './test-images.js';
import { uniqueName } from './unique-name.js';

/** On every container the harness starts, so a test (or a human) can find and remove leftovers. */
export const TEST_CONTAINER_LABEL = 'org.tunnelfleet-test.container';

interface TestWebContainerOptions {
  /** Labels under test, e.g. `{ 'tunnelfleet.enable': 'true', ... }`. */
  labels?: Record<string, string>;
  /** Default: a unique `tf-web-…` name. */
  name?: string;
  /** A user network to attach to instead of the default bridge. */
  network?: string;
  /** Port httpd listens on inside the container (default 80). */
  port?: number;
  /** Start it (default) or only create it. */
  start?: boolean;
}

interface TestWebContainer {
  readonly id: string;
  readonly name: string;
  readonly container: Docker.Container;
  /** The container's address on its network, reachable from the host. */
  ipAddress(): Promise<string>;
  /** Force-remove; a container already gone is fine. */
  remove(): Promise<void>;
}

/**
 * Creates (and by default starts) a container of the test web image, which answers every
 * request with its hostname. It runs with an init process so stop is immediate.
 */
export async function startTestWebContainer(
  docker: Docker,
  options: TestWebContainerOptions = {},
): Promise<TestWebContainer> {
  await ensureTestImages(docker);
  const name = options.name ?? uniqueName('tf-web');
  const container = await docker.createContainer({
    name,
    Image: TEST_WEB_IMAGE,
    Env: [`PORT=${options.port ?? 80}`],
    Labels: { [TEST_CONTAINER_LABEL]: 'web', ...options.labels },
    HostConfig: { Init: true, ...(options.network ? { NetworkMode: options.network } : {}) },
  });
  if (options.start !== false) await container.start();
  return {
    id: container.id,
    name,
    container,
    ipAddress: () => containerIpAddress(docker, container.id, options.network),
    remove: () => removeContainer(docker.getContainer(container.id)),
  };
}

/** The IP of a running container on `network` (default: its only or first network). */
export async function containerIpAddress(docker: Docker, id: string, network?: string): Promise<string> {
  const info = await docker.getContainer(id).inspect();
  const networks = info.NetworkSettings.Networks;
  const settings = network ? networks[network] : Object.values(networks)[0];
  if (!settings?.IPAddress) {
    throw new HarnessError(
      `container ${info.Name} has no IP address on ${network ?? 'any network'} (state: ${info.State.Status})`,
    );
  }
  return settings.IPAddress;
}

/**
 * Force-removes every container, running or not, carrying `label` (`key` or `key=value`).
 * Returns how many were removed. For test cleanup.
 */
export async function removeContainersByLabel(docker: Docker, label: string): Promise<number> {
  const containers = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(containers.map((info) => removeContainer(docker.getContainer(info.Id))));
  return containers.length;
}

async function removeContainer(container: Docker.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: true });
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    // 404: already gone; 409: removal already in progress (parallel cleanup).
    if (status !== 404 && status !== 409) throw error;
  }
}
