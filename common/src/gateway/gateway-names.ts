import { createHash } from 'node:crypto';

/** The port the gateway proxies on, on the shared cloudflared network. */
export const GATEWAY_PROXY_PORT = 8080;

const shortHash = (value: string, length: number) =>
  createHash('sha256').update(value).digest('hex').slice(0, length);

/**
 * Names of an agent's gateway. Agent ids may hold characters Docker refuses in names; a hash keeps
 * the names valid and stable. The master derives the same names from the agent id, so it never
 * takes an agent's word for which gateway its routes go to.
 */
export function gatewayNames(agentId: string) {
  const id = shortHash(agentId, 12);
  return {
    container: `tunnelfleet-gateway-${id}`,
    volume: `tunnelfleet-gateway-${id}`,
    proxyAlias: `tunnelfleet-gateway-${id}`,
    controlAlias: `tunnelfleet-gateway-api-${id}`,
  };
}

/** cloudflared's ingress service for a route through the agent's gateway. */
export function gatewayServiceUrl(agentId: string): string {
  return `http://${gatewayNames(agentId).proxyAlias}:${GATEWAY_PROXY_PORT}`;
}
