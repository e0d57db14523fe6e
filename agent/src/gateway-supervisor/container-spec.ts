import { createHash } from 'node:crypto';
import { GATEWAY_PROXY_PORT, gatewayNames } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { MANAGED_LABEL } from '../docker/label-match.js';

export const GATEWAY_LABELS = {
  managed: MANAGED_LABEL,
  agentId: 'tunnelfleet.agent-id',
  /** Hash of everything the container was created from: a different one means replace it. */
  specHash: 'tunnelfleet.spec-hash',
} as const;
const MANAGED_GATEWAY = 'gateway';

/** Ports inside the gateway's container: fixed, since only the agent and cloudflared dial them. */
export { GATEWAY_PROXY_PORT, gatewayNames };
export const GATEWAY_API_PORT = 8081;
/** What Docker waits after SIGTERM: the gateway stops accepting and lets requests in flight end. */
const STOP_TIMEOUT_SECONDS = 30;

export interface GatewaySpecInput {
  agentId: string;
  /** The agent's own image: the gateway is its `dist/gateway/main.js`. */
  image: string;
  /** Network the gateway shares with cloudflared and the published containers. */
  network: string;
  /** Internal network the gateway shares with the agent (and cloudflared) alone: its API listens there. */
  controlNetwork: string;
  apiToken: string;
}

export interface GatewaySpec {
  name: string;
  specHash: string;
  network: string;
  controlNetwork: string;
  /**
   * The gateway's name on `network`: cloudflared's ingress for an L7 route is `http://<alias>:8080`.
   */
  proxyAlias: string;
  /**
   * Its name on `controlNetwork` only. The API listens on the address this resolves to, so the
   * published containers on `network` cannot reach it; connect with this alias before starting.
   */
  controlAlias: string;
  createOptions: Docker.ContainerCreateOptions;
}

const shortHash = (value: string, length: number) =>
  createHash('sha256').update(value).digest('hex').slice(0, length);

export function managedGatewayFilter(agentId: string): string[] {
  return [`${GATEWAY_LABELS.managed}=${MANAGED_GATEWAY}`, `${GATEWAY_LABELS.agentId}=${agentId}`];
}

export function buildGatewaySpec(input: GatewaySpecInput): GatewaySpec {
  const names = gatewayNames(input.agentId);
  const env = [
    `GATEWAY_LISTEN_PORT=${GATEWAY_PROXY_PORT}`,
    'GATEWAY_LISTEN_HOST=0.0.0.0',
    `GATEWAY_API_PORT=${GATEWAY_API_PORT}`,
    `GATEWAY_API_HOST=${names.controlAlias}`,
    // The environment, not the command line: arguments show up in process listings.
    `GATEWAY_API_TOKEN=${input.apiToken}`,
    'GATEWAY_DATA_DIR=/app/data',
  ];
  const cmd = ['node', 'dist/gateway/main.js'];
  const specHash = shortHash(
    JSON.stringify({
      image: input.image,
      cmd,
      network: input.network,
      controlNetwork: input.controlNetwork,
      token: shortHash(input.apiToken, 16),
    }),
    16,
  );
  return {
    name: names.container,
    specHash,
    network: input.network,
    controlNetwork: input.controlNetwork,
    proxyAlias: names.proxyAlias,
    controlAlias: names.controlAlias,
    createOptions: {
      name: names.container,
      Image: input.image,
      Cmd: cmd,
      Env: env,
      StopTimeout: STOP_TIMEOUT_SECONDS,
      Labels: {
        [GATEWAY_LABELS.managed]: MANAGED_GATEWAY,
        [GATEWAY_LABELS.agentId]: input.agentId,
        [GATEWAY_LABELS.specHash]: specHash,
      },
      // The agent image's HEALTHCHECK asks the agent's port; the gateway answers on its API address.
      Healthcheck: {
        Test: [
          'CMD',
          'node',
          '-e',
          "fetch('http://'+process.env.GATEWAY_API_HOST+':'+process.env.GATEWAY_API_PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))",
        ],
        Interval: 30e9,
        Timeout: 5e9,
        Retries: 3,
      },
      NetworkingConfig: { EndpointsConfig: { [input.network]: { Aliases: [names.proxyAlias] } } },
      HostConfig: {
        // The supervisor restarts it with backoff and tells a crash from an operator's stop.
        RestartPolicy: { Name: 'no' },
        NetworkMode: input.network,
        // The last routing table survives a replacement of the container (0600 inside, user 65532).
        Binds: [`${names.volume}:/app/data`],
      },
    },
  };
}
