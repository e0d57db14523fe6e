import { randomUUID } from 'node:crypto';
import { type EmulatorState, nowIso, type Tunnel } from './state.js';
import { decodeTunnelToken } from './tunnel-token.js';

/** The emulated Cloudflare edge that the stand-in cloudflared registers with (EDGE-PROTOCOL.md). */
interface EdgeReply {
  status: number;
  body: Record<string, unknown>;
}

interface EdgeDeps {
  state: EmulatorState;
  heartbeatSeconds: number;
  now: () => number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const rejected: EdgeReply = { status: 401, body: { error: 'token rejected' } };
const notFound: EdgeReply = { status: 404, body: { error: 'tunnel not found' } };

function authorise(state: EmulatorState, body: Record<string, unknown>): Tunnel | EdgeReply {
  const payload = decodeTunnelToken(body.token);
  if (!payload) return rejected;
  const tunnel = state.tunnels.get(payload.t);
  if (!tunnel || tunnel.deleted_at) return notFound;
  if (tunnel.accountId !== payload.a || tunnel.secret !== payload.s) return rejected;
  return tunnel;
}

export function handleEdge(deps: EdgeDeps, path: string, body: unknown, originIp: string): EdgeReply {
  if (typeof body !== 'object' || body === null)
    return { status: 400, body: { error: 'JSON body required' } };
  const fields = body as Record<string, unknown>;
  const connectorId = fields.connector_id;
  if (typeof connectorId !== 'string' || connectorId === '') {
    return { status: 400, body: { error: 'connector_id required' } };
  }
  const tunnel = authorise(deps.state, fields);
  if ('status' in tunnel) return tunnel;
  let connections = deps.state.connections.get(tunnel.id);
  if (!connections) {
    connections = new Map();
    deps.state.connections.set(tunnel.id, connections);
  }
  if (path === '/edge/v1/disconnect') {
    connections.delete(connectorId);
    if (connections.size === 0) tunnel.conns_inactive_at = nowIso();
    return { status: 200, body: {} };
  }
  if (path !== '/edge/v1/connect') return { status: 404, body: { error: 'not found' } };
  const existing = connections.get(connectorId);
  const connection = existing ?? {
    connectorId,
    // Cloudflare names a connector (`client_id`) by the id cloudflared reports on `/ready`.
    clientId: UUID.test(connectorId) ? connectorId.toLowerCase() : randomUUID(),
    connectionId: randomUUID(),
    version: typeof fields.version === 'string' ? fields.version : 'unknown',
    originIp,
    openedAt: nowIso(),
    lastSeenMs: 0,
  };
  connection.lastSeenMs = deps.now();
  connections.set(connectorId, connection);
  tunnel.conns_active_at = new Date(connection.lastSeenMs).toISOString();
  return {
    status: 200,
    body: { connection_id: connection.connectionId, heartbeat_seconds: deps.heartbeatSeconds },
  };
}
