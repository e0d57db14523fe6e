import {
  type Container,
  type ContainerState,
  containerStateSchema,
  type ExposedPort,
  type LabelParseContext,
} from '@tunnelfleet/common';
import type Docker from 'dockerode';

/**
 * The agent's view of one container, built from `docker inspect` (the list endpoint lacks exposed
 * ports and aliases). Not validated here: the watcher checks it against the protocol schema.
 */
export function normalizeContainer(info: Docker.ContainerInspectInfo): Container {
  const networks: Container['networks'] = {};
  for (const [name, network] of Object.entries(info.NetworkSettings?.Networks ?? {})) {
    networks[name] = { ipAddress: network.IPAddress ?? '', aliases: network.Aliases ?? [] };
  }
  const image = info.Config?.Image;
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    ...(image ? { image } : {}),
    labels: { ...(info.Config?.Labels ?? {}) },
    state: containerState(info.State?.Status),
    networks,
    exposedPorts: exposedPorts(info.Config?.ExposedPorts),
  };
}

function containerState(status: string | undefined): ContainerState {
  const parsed = containerStateSchema.safeParse(status);
  // Only a future Docker could report another status; "dead" is the state no route should serve.
  return parsed.success ? parsed.data : 'dead';
}

/** `{"80/tcp": {}, "53/udp": {}}` → sorted `[{port: 53, protocol: 'udp'}, {port: 80, protocol: 'tcp'}]`. */
export function exposedPorts(exposed: Record<string, unknown> | undefined): ExposedPort[] {
  const ports: ExposedPort[] = [];
  for (const key of Object.keys(exposed ?? {})) {
    const match = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(key);
    if (!match) continue;
    const port = Number(match[1]);
    if (port < 1 || port > 65535) continue;
    ports.push({ port, protocol: (match[2] ?? 'tcp') as ExposedPort['protocol'] });
  }
  return ports.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}

/**
 * What the label parser needs besides the labels: the name, and the TCP ports from which it
 * completes a service that names no port (when exactly one is exposed).
 */
export function labelParseContext(container: Container): LabelParseContext {
  return {
    containerName: container.name,
    exposedPorts: container.exposedPorts.filter((p) => p.protocol === 'tcp').map((p) => p.port),
  };
}
