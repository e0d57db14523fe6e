import { randomBytes } from 'node:crypto';
import { hexId, uuid } from './ids.js';
import { appView, policyView } from './routes/access.js';
import { recordOperations, recordView } from './routes/dns-records.js';
import type { RouteDeps } from './routes/route-deps.js';
import { liveConnections, rotateSecret, tunnelView } from './routes/tunnels.js';
import {
  type AccessApp,
  type AccessPolicy,
  type Account,
  type ApiToken,
  type EmulatorState,
  nowIso,
  type Tunnel,
  type Zone,
} from './state.js';

/** Test helpers that set up or read the emulator's world without going through the API. */
export function createSeeding(state: EmulatorState, deps: RouteDeps) {
  const zoneByIdOrName = (idOrName: string): Zone => {
    const zone = state.zones.get(idOrName) ?? [...state.zones.values()].find((z) => z.name === idOrName);
    if (!zone) throw new Error(`emulator: no zone ${idOrName}`);
    return zone;
  };
  const tunnelById = (tunnelId: string): Tunnel => {
    const tunnel = state.tunnels.get(tunnelId);
    if (!tunnel) throw new Error(`emulator: no tunnel ${tunnelId}`);
    return tunnel;
  };
  const setTunnelConfig = (tunnelId: string, config: Record<string, unknown>) => {
    const tunnel = tunnelById(tunnelId);
    const version = (state.tunnelConfigs.get(tunnel.id)?.version ?? 0) + 1;
    state.tunnelConfigs.set(tunnel.id, { version, config: structuredClone(config), created_at: nowIso() });
    tunnel.config_src = 'cloudflare';
    return version;
  };

  return {
    createAccount(name: string): Account {
      const account: Account = { id: hexId(), name, created_on: nowIso() };
      state.accounts.set(account.id, account);
      return account;
    },
    createZone(name: string, accountId: string): Zone {
      if (!state.accounts.has(accountId)) throw new Error(`emulator: no account ${accountId}`);
      const now = nowIso();
      const zone: Zone = {
        id: hexId(),
        name: name.toLowerCase(),
        accountId,
        status: 'active',
        created_on: now,
        modified_on: now,
      };
      state.zones.set(zone.id, zone);
      return zone;
    },
    /** A scoped API token: it sees only these accounts and, inside them, these zones (or all). */
    createToken(scope: { accountIds: string[]; zoneNames: string[] | 'all'; name?: string }): string {
      const token: ApiToken = {
        id: hexId(),
        name: scope.name ?? `token-${state.tokens.size + 1}`,
        value: randomBytes(30).toString('base64url'),
        accountIds: new Set(scope.accountIds),
        zoneNames: scope.zoneNames === 'all' ? 'all' : new Set(scope.zoneNames.map((n) => n.toLowerCase())),
      };
      state.tokens.set(token.id, token);
      return token.value;
    },
    /** A record as if created by someone else (validated like the API, not logged). */
    seedDnsRecord(zoneIdOrName: string, record: Record<string, unknown>) {
      const zone = zoneByIdOrName(zoneIdOrName);
      return recordView(recordOperations(state, zone).create(record));
    },
    seedTunnel(accountId: string, name: string) {
      const tunnel: Tunnel = {
        id: uuid(),
        accountId,
        name,
        secret: randomBytes(32).toString('base64'),
        config_src: 'cloudflare',
        created_at: nowIso(),
        deleted_at: null,
        metadata: {},
      };
      state.tunnels.set(tunnel.id, tunnel);
      return tunnelView(deps, tunnel);
    },
    /** Replaces a tunnel's configuration without validation (foreign or broken state); returns the version. */
    setTunnelConfig,
    /** Adds a foreign ingress rule before the catch-all (adding `http_status:404` if none). */
    seedIngressRule(tunnelId: string, rule: Record<string, unknown>) {
      const current = state.tunnelConfigs.get(tunnelId)?.config ?? {};
      const ingress = Array.isArray(current.ingress)
        ? [...(current.ingress as Record<string, unknown>[])]
        : [];
      const last = ingress.at(-1);
      const catchAll = last && !last.hostname && !last.path ? ingress.pop()! : { service: 'http_status:404' };
      return setTunnelConfig(tunnelId, { ...current, ingress: [...ingress, rule, catchAll] });
    },
    rotateTunnelSecret(tunnelId: string): void {
      rotateSecret(tunnelById(tunnelId));
    },
    dnsRecords(zoneIdOrName?: string) {
      const zoneId = zoneIdOrName === undefined ? undefined : zoneByIdOrName(zoneIdOrName).id;
      return [...state.dnsRecordsByZone]
        .filter(([id]) => !zoneId || id === zoneId)
        .flatMap(([, records]) => [...records.values()].map(recordView));
    },
    tunnels() {
      return [...state.tunnels.values()].map((tunnel) => tunnelView(deps, tunnel));
    },
    tunnelConfig(tunnelId: string) {
      const stored = state.tunnelConfigs.get(tunnelId);
      return stored ? { version: stored.version, config: structuredClone(stored.config) } : undefined;
    },
    /** An Access application created by someone else, stored as given (ids and aud added). */
    seedAccessApp(owner: { accountId: string } | { zoneId: string }, body: Record<string, unknown>) {
      const now = nowIso();
      const app: AccessApp = {
        id: uuid(),
        scope: 'accountId' in owner ? 'accounts' : 'zones',
        scopeId: 'accountId' in owner ? owner.accountId : owner.zoneId,
        body: { type: 'self_hosted', session_duration: '24h', name: body.domain, ...structuredClone(body) },
        aud: randomBytes(32).toString('hex'),
        created_at: now,
        updated_at: now,
      };
      state.accessApps.set(app.id, app);
      return appView(state, app);
    },
    seedAccessPolicy(accountId: string, body: Record<string, unknown>) {
      const now = nowIso();
      const policy: AccessPolicy = {
        id: uuid(),
        accountId,
        body: structuredClone(body),
        created_at: now,
        updated_at: now,
      };
      state.accessPolicies.set(policy.id, policy);
      return policyView(state, policy);
    },
    accessApps() {
      return [...state.accessApps.values()].map((app) => ({
        ...appView(state, app),
        scope: app.scope,
        scope_id: app.scopeId,
      }));
    },
    accessPolicies() {
      return [...state.accessPolicies.values()].map((policy) => ({
        ...policyView(state, policy),
        account_id: policy.accountId,
      }));
    },
    tunnelConnections(tunnelId: string) {
      return liveConnections(deps, tunnelId).map((c) => ({ ...c }));
    },
  };
}
