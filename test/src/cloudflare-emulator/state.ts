/** The emulator's world: plain maps, shared by the routes, the edge and the test helpers. */

export interface Account {
  id: string;
  name: string;
  created_on: string;
}

export interface Zone {
  id: string;
  name: string;
  accountId: string;
  status: 'active' | 'pending';
  created_on: string;
  modified_on: string;
}

export interface ApiToken {
  id: string;
  name: string;
  value: string;
  accountIds: ReadonlySet<string>;
  /** Zone names this token may touch, or every zone of its accounts. */
  zoneNames: ReadonlySet<string> | 'all';
}

export interface DnsRecord {
  id: string;
  zone_id: string;
  zone_name: string;
  name: string;
  type: string;
  content: string;
  proxied: boolean;
  proxiable: boolean;
  ttl: number;
  comment: string | null;
  tags: string[];
  settings: Record<string, unknown>;
  priority?: number;
  created_on: string;
  modified_on: string;
  comment_modified_on?: string;
}

export interface Tunnel {
  id: string;
  accountId: string;
  name: string;
  /** base64 of the tunnel secret; rotating it invalidates tokens issued before. */
  secret: string;
  config_src: 'local' | 'cloudflare';
  created_at: string;
  deleted_at: string | null;
  metadata: Record<string, unknown>;
  conns_active_at?: string;
  conns_inactive_at?: string;
}

interface TunnelConfiguration {
  version: number;
  config: Record<string, unknown>;
  created_at: string;
}

export interface EdgeConnection {
  /** The stand-in's own id for its run (any string). */
  connectorId: string;
  /** The API's uuid for that connector (`client_id`): the connector id when it is a uuid, as cloudflared's is. */
  clientId: string;
  connectionId: string;
  version: string;
  originIp: string;
  openedAt: string;
  lastSeenMs: number;
}

export interface AccessApp {
  id: string;
  scope: 'accounts' | 'zones';
  scopeId: string;
  body: Record<string, unknown>;
  aud: string;
  created_at: string;
  updated_at: string;
}

export interface AccessPolicy {
  id: string;
  accountId: string;
  body: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export interface ServiceToken {
  id: string;
  scope: 'accounts' | 'zones';
  scopeId: string;
  name: string;
  client_id: string;
  duration: string;
  created_at: string;
  updated_at: string;
  expires_at: string;
}

export interface EmulatorState {
  accounts: Map<string, Account>;
  zones: Map<string, Zone>;
  tokens: Map<string, ApiToken>;
  /** By id. Written only through `routes/dns-records.ts`, which keeps `dnsRecordsByZone` beside it. */
  dnsRecords: Map<string, DnsRecord>;
  /**
   * zone id → record id → record: what a list, a conflict check or a batch's rollback of one zone
   * reads, instead of every zone's records (a fleet's 100 zones hold 200,000).
   */
  dnsRecordsByZone: Map<string, Map<string, DnsRecord>>;
  tunnels: Map<string, Tunnel>;
  tunnelConfigs: Map<string, TunnelConfiguration>;
  /** tunnel id → connector id → connection */
  connections: Map<string, Map<string, EdgeConnection>>;
  accessApps: Map<string, AccessApp>;
  accessPolicies: Map<string, AccessPolicy>;
  serviceTokens: Map<string, ServiceToken>;
}

export function createState(): EmulatorState {
  return {
    accounts: new Map(),
    zones: new Map(),
    tokens: new Map(),
    dnsRecords: new Map(),
    dnsRecordsByZone: new Map(),
    tunnels: new Map(),
    tunnelConfigs: new Map(),
    connections: new Map(),
    accessApps: new Map(),
    accessPolicies: new Map(),
    serviceTokens: new Map(),
  };
}

export const nowIso = (): string => new Date().toISOString();
