import { apiErrors } from '../errors.js';
import { isUuid, uuid } from '../ids.js';
import { paginate } from '../pagination.js';
import { type ApiRequest, type Route, route } from '../router.js';
import { requireAccount } from '../scopes.js';
import { type EdgeConnection, type EmulatorState, nowIso, type Tunnel } from '../state.js';
import { encodeTunnelToken, newTunnelSecret } from '../tunnel-token.js';
import type { RouteDeps } from './route-deps.js';
import { validateTunnelConfig } from './tunnel-config-validation.js';

export function liveConnections(deps: RouteDeps, tunnelId: string): EdgeConnection[] {
  const connections = deps.state.connections.get(tunnelId);
  if (!connections) return [];
  return [...connections.values()].filter((connection) => deps.connectionIsLive(connection.lastSeenMs));
}

function status(deps: RouteDeps, tunnel: Tunnel): 'inactive' | 'healthy' | 'down' {
  if (liveConnections(deps, tunnel.id).length > 0) return 'healthy';
  return tunnel.conns_active_at ? 'down' : 'inactive';
}

export function tunnelView(deps: RouteDeps, tunnel: Tunnel): Record<string, unknown> {
  const live = liveConnections(deps, tunnel.id);
  const lastSeen = live.reduce((latest, c) => Math.max(latest, c.lastSeenMs), 0);
  return {
    id: tunnel.id,
    account_tag: tunnel.accountId,
    name: tunnel.name,
    created_at: tunnel.created_at,
    ...(tunnel.deleted_at ? { deleted_at: tunnel.deleted_at } : {}),
    connections: [],
    ...(lastSeen > 0 ? { conns_active_at: new Date(lastSeen).toISOString() } : {}),
    ...(live.length === 0 && tunnel.conns_inactive_at ? { conns_inactive_at: tunnel.conns_inactive_at } : {}),
    tun_type: 'cfd_tunnel',
    status: status(deps, tunnel),
    metadata: tunnel.metadata,
    remote_config: tunnel.config_src === 'cloudflare',
    config_src: tunnel.config_src,
  };
}

function objectBody(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw apiErrors.invalidRequest('Request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function validName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '')
    throw apiErrors.invalidRequest('tunnel name is required');
  if (name.length > 255) throw apiErrors.invalidRequest('tunnel name must be at most 255 characters');
  return name;
}

function validSecret(secret: unknown): string {
  if (typeof secret !== 'string') throw apiErrors.invalidRequest('tunnel_secret must be a base64 string');
  const bytes = Buffer.from(secret, 'base64');
  if (bytes.length < 32 || bytes.toString('base64').replace(/=+$/, '') !== secret.replace(/=+$/, '')) {
    throw apiErrors.invalidRequest('tunnel_secret must be at least 32 bytes, base64 encoded');
  }
  return secret;
}

function assertNameFree(state: EmulatorState, accountId: string, name: string, exceptId?: string): void {
  for (const other of state.tunnels.values()) {
    if (other.accountId === accountId && other.name === name && !other.deleted_at && other.id !== exceptId) {
      throw apiErrors.tunnelNameTaken();
    }
  }
}

/** Rotating the secret: tokens issued before stop working at the edge. */
export function rotateSecret(tunnel: Tunnel, secret = newTunnelSecret()): void {
  tunnel.secret = secret;
}

export function tunnelRoutes(deps: RouteDeps): Route[] {
  const { state } = deps;
  const tunnelOf = (req: ApiRequest, options: { allowDeleted: boolean }): Tunnel => {
    const account = requireAccount(state, req.token, req.params.account_id!, req.path);
    const id = req.params.tunnel_id!;
    if (!isUuid(id)) throw apiErrors.invalidIdentifier(req.path);
    const tunnel = state.tunnels.get(id);
    if (!tunnel || tunnel.accountId !== account.id) throw apiErrors.tunnelNotFound();
    if (tunnel.deleted_at && !options.allowDeleted) throw apiErrors.tunnelNotFound();
    return tunnel;
  };
  const base = '/accounts/:account_id/cfd_tunnel';
  return [
    route('POST', base, (req) => {
      const account = requireAccount(state, req.token, req.params.account_id!, req.path);
      const body = objectBody(req.body);
      const name = validName(body.name);
      const configSrc = body.config_src ?? 'local';
      if (configSrc !== 'local' && configSrc !== 'cloudflare') {
        throw apiErrors.invalidRequest("config_src must be 'local' or 'cloudflare'");
      }
      const secret = body.tunnel_secret === undefined ? newTunnelSecret() : validSecret(body.tunnel_secret);
      assertNameFree(state, account.id, name);
      const tunnel: Tunnel = {
        id: uuid(),
        accountId: account.id,
        name,
        secret,
        config_src: configSrc,
        created_at: nowIso(),
        deleted_at: null,
        metadata: {},
      };
      state.tunnels.set(tunnel.id, tunnel);
      return { result: tunnelView(deps, tunnel) };
    }),
    route('GET', base, (req) => {
      const account = requireAccount(state, req.token, req.params.account_id!, req.path);
      const q = req.query;
      const isDeleted = q.get('is_deleted');
      const tunnels = [...state.tunnels.values()]
        .filter((t) => t.accountId === account.id)
        .filter((t) => !q.get('name') || t.name === q.get('name'))
        .filter((t) => !q.get('uuid') || t.id === q.get('uuid'))
        .filter(
          (t) => isDeleted === null || isDeleted === '' || (isDeleted === 'true') === Boolean(t.deleted_at),
        )
        .filter((t) => !q.get('include_prefix') || t.name.startsWith(q.get('include_prefix')!))
        .filter((t) => !q.get('exclude_prefix') || !t.name.startsWith(q.get('exclude_prefix')!))
        .filter((t) => !q.get('status') || status(deps, t) === q.get('status'))
        .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
      const page = paginate(tunnels, q, { defaultPerPage: 20, maxPerPage: 1000 });
      return { result: page.result.map((t) => tunnelView(deps, t)), resultInfo: page.resultInfo };
    }),
    route('GET', `${base}/:tunnel_id`, (req) => ({
      result: tunnelView(deps, tunnelOf(req, { allowDeleted: true })),
    })),
    route('PATCH', `${base}/:tunnel_id`, (req) => {
      const tunnel = tunnelOf(req, { allowDeleted: false });
      const body = objectBody(req.body);
      if (body.name !== undefined) {
        const name = validName(body.name);
        assertNameFree(state, tunnel.accountId, name, tunnel.id);
        tunnel.name = name;
      }
      if (body.tunnel_secret !== undefined) rotateSecret(tunnel, validSecret(body.tunnel_secret));
      return { result: tunnelView(deps, tunnel) };
    }),
    route('DELETE', `${base}/:tunnel_id`, (req) => {
      const tunnel = tunnelOf(req, { allowDeleted: false });
      if (liveConnections(deps, tunnel.id).length > 0) throw apiErrors.tunnelHasConnections();
      tunnel.deleted_at = nowIso();
      state.connections.delete(tunnel.id);
      return { result: tunnelView(deps, tunnel) };
    }),
    route('GET', `${base}/:tunnel_id/token`, (req) => {
      const tunnel = tunnelOf(req, { allowDeleted: false });
      const edge = deps.edgeUrl();
      const payload = { a: tunnel.accountId, t: tunnel.id, s: tunnel.secret, ...(edge ? { e: edge } : {}) };
      return { result: encodeTunnelToken(payload) };
    }),
    route('GET', `${base}/:tunnel_id/connections`, (req) => {
      const tunnel = tunnelOf(req, { allowDeleted: true });
      const version = state.tunnelConfigs.get(tunnel.id)?.version ?? 0;
      const clients = liveConnections(deps, tunnel.id).map((c) => ({
        id: c.clientId,
        arch: 'linux_amd64',
        version: c.version,
        run_at: c.openedAt,
        config_version: version,
        features: [],
        conns: [
          {
            id: c.connectionId,
            client_id: c.clientId,
            client_version: c.version,
            colo_name: 'emu01',
            is_pending_reconnect: false,
            opened_at: c.openedAt,
            origin_ip: c.originIp,
            uuid: c.connectionId,
          },
        ],
      }));
      return { result: clients };
    }),
    route('DELETE', `${base}/:tunnel_id/connections`, (req) => {
      const tunnel = tunnelOf(req, { allowDeleted: true });
      const clientId = req.query.get('client_id');
      const connections = state.connections.get(tunnel.id);
      if (connections) {
        for (const [key, connection] of connections) {
          if (!clientId || connection.clientId === clientId) connections.delete(key);
        }
      }
      return { result: null };
    }),
    route('GET', `${base}/:tunnel_id/configurations`, (req) => {
      const tunnel = tunnelOf(req, { allowDeleted: false });
      const stored = state.tunnelConfigs.get(tunnel.id);
      return {
        result: {
          account_id: tunnel.accountId,
          tunnel_id: tunnel.id,
          version: stored?.version ?? 0,
          config: stored ? structuredClone(stored.config) : {},
          source: tunnel.config_src,
          created_at: stored?.created_at ?? tunnel.created_at,
        },
      };
    }),
    route('PUT', `${base}/:tunnel_id/configurations`, (req) => {
      const tunnel = tunnelOf(req, { allowDeleted: false });
      const body = objectBody(req.body);
      const problem = validateTunnelConfig(body.config);
      if (problem) throw apiErrors.tunnelBadConfig(problem);
      const version = (state.tunnelConfigs.get(tunnel.id)?.version ?? 0) + 1;
      const stored = {
        version,
        config: structuredClone(body.config as Record<string, unknown>),
        created_at: nowIso(),
      };
      state.tunnelConfigs.set(tunnel.id, stored);
      tunnel.config_src = 'cloudflare';
      return {
        result: {
          account_id: tunnel.accountId,
          tunnel_id: tunnel.id,
          version,
          config: structuredClone(stored.config),
          source: 'cloudflare',
          created_at: stored.created_at,
        },
      };
    }),
  ];
}
