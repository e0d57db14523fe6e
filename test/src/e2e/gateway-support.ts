import { request as httpRequest } from 'node:http';
import { type Command, GATEWAY_PROXY_PORT, gatewayNames } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { afterAll, beforeAll } from 'vitest';
import { buildGatewayTestImage, GATEWAY_TEST_IMAGE, removeGatewayVolume } from '../harness/gateway-image.js';
import { waitFor } from '../harness/wait-for.js';
import type { Fleet, FleetOptions } from '../system/fleet.js';
import type { ProtocolAgent } from '../system/protocol-agent.js';
import { CONVERGE_TIMEOUT_MS, cloudView, rulesFor, useFleet } from './support.js';

// Moved to support.js (the isolation files use it too); still importable from here.
export { reportWithBarrier } from './support.js';

/**
 * Everything Cloudflare holds for one hostname, serialised: its records, its ingress rules in every
 * tunnel, its Access apps. Host A's tunnel also carries the labelled containers of other test
 * files on the main engine, so the comparison is of this hostname's objects, whole.
 */
export function hostnameState(f: Fleet, hostname: string): string {
  const view = cloudView(f);
  return JSON.stringify({
    records: view.records.filter((record) => record.name === hostname),
    rules: rulesFor(view, hostname),
    apps: view.apps.filter((app) => app.domain.split('/')[0] === hostname),
  });
}

export interface GatewayAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One request to host A's gateway as cloudflared sends it: to its proxy port, with the public Host. */
export function throughGateway(
  address: string,
  hostname: string,
  headers: Record<string, string> = {},
): Promise<GatewayAnswer> {
  return gatewayRequest(address, { hostname, headers });
}

/** `throughGateway` with a method, a path (and query) and a body of one's choosing. */
export function gatewayRequest(
  address: string,
  options: {
    hostname: string;
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  },
): Promise<GatewayAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: address,
        port: GATEWAY_PROXY_PORT,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: { host: options.hostname, accept: 'application/json', ...options.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Host A's gateway container's address on its cloudflared network (where cloudflared reaches it). */
export async function gatewayAddress(docker: Docker, agentId: string, network: string): Promise<string> {
  return waitFor(
    async () => {
      const info = await docker
        .getContainer(gatewayNames(agentId).container)
        .inspect()
        .catch(() => undefined);
      return info?.State.Running ? info.NetworkSettings.Networks[network]?.IPAddress || undefined : undefined;
    },
    { description: "host A's gateway running", timeoutMs: CONVERGE_TIMEOUT_MS },
  );
}

/** The hostnames of each gateway table the master sent a protocol agent (its queue drained). */
export async function sentGatewayTables(agent: ProtocolAgent): Promise<string[][]> {
  const commands: Command[] = [];
  for (let next = await agent.nextCommand(); next; next = await agent.nextCommand()) commands.push(next);
  return commands.flatMap((command) =>
    command.type === 'set_gateway_routes' ? [command.payload.routes.map((route) => route.hostname)] : [],
  );
}

/**
 * For a file whose fleet runs the gateway on host A: the agent image is built before the fleet
 * starts (call this before `useFleet`), and the gateway's volume is removed after the fleet's
 * teardown removed its container. Returns a call that names the agent whose volume it is.
 */
export function useGatewayImage(): (agentId: string) => void {
  let volume: string | undefined;
  beforeAll(() => buildGatewayTestImage(), 600_000);
  // Registered before the fleet's: runs after its teardown removed the gateway container.
  afterAll(() => (volume ? removeGatewayVolume(volume) : undefined));
  return (agentId) => {
    volume = gatewayNames(agentId).volume;
  };
}

/**
 * A fleet whose host A runs the L7 gateway (GATEWAY_IMAGE); host B does not. Host A, not B: a
 * second engine drops traffic between its containers (the host forwards nothing for an engine
 * without iptables), and the gateway must reach the containers it routes to. The image is built
 * before the fleet starts and the gateway's volume removed after its teardown (`useGatewayImage`).
 */
export function useGatewayFleet(options: FleetOptions): {
  fleet: () => Fleet;
  /** Names the agent whose gateway volume is removed after the fleet's teardown. */
  gatewayVolumeOf: (agentId: string) => void;
} {
  const gatewayVolumeOf = useGatewayImage();
  const fleet = useFleet({
    ...options,
    hostEnv: { ...options.hostEnv, a: { GATEWAY_IMAGE: GATEWAY_TEST_IMAGE, ...options.hostEnv?.a } },
  });
  return { fleet, gatewayVolumeOf };
}
