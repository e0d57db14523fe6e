import { DEFAULT_SERVICE_POLICY, type ServicePolicy, servicePolicySchema } from '@tunnelfleet/common';
import type { SqliteDatabase } from './database.js';
import { isoNow, parseJsonColumn, statement } from './statements.js';

export interface AgentKeyRecord {
  id: string;
  name: string;
  /** SHA-256 (hex) of the secret part of the key. */
  secretHash: string;
  /** Hostname patterns the key's agent may claim (empty when `allowAnyHostname`). */
  hostnameAllowlist: string[];
  /** Any hostname of a managed zone except wildcards: the operator chose it at creation. */
  allowAnyHostname: boolean;
  autoApprove: boolean;
  /** Which services the key's agent may publish (`checkServicePolicy`). */
  servicePolicy: ServicePolicy;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

interface AgentKeyRow {
  id: string;
  name: string;
  secret_hash: string;
  hostname_allowlist: string;
  allow_any_hostname: number;
  auto_approve: number;
  service_policy: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

/** A stored policy that does not read back (edited by hand) is the default one: fail closed. */
function readServicePolicy(text: string): ServicePolicy {
  const parsed = servicePolicySchema.safeParse(parseJsonColumn<unknown>(text, null));
  return parsed.success ? parsed.data : DEFAULT_SERVICE_POLICY;
}

function toRecord(row: AgentKeyRow): AgentKeyRecord {
  return {
    id: row.id,
    name: row.name,
    secretHash: row.secret_hash,
    hostnameAllowlist: parseJsonColumn<string[]>(row.hostname_allowlist, []),
    allowAnyHostname: row.allow_any_hostname === 1,
    autoApprove: row.auto_approve === 1,
    servicePolicy: readServicePolicy(row.service_policy),
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

export function insertAgentKey(
  db: SqliteDatabase,
  key: Pick<
    AgentKeyRecord,
    'id' | 'name' | 'secretHash' | 'hostnameAllowlist' | 'allowAnyHostname' | 'autoApprove'
  > &
    Partial<Pick<AgentKeyRecord, 'servicePolicy'>>,
): AgentKeyRecord {
  const servicePolicy = key.servicePolicy ?? DEFAULT_SERVICE_POLICY;
  const createdAt = isoNow();
  statement(
    db,
    `INSERT INTO agent_keys
       (id, name, secret_hash, hostname_allowlist, allow_any_hostname, auto_approve, service_policy, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    key.id,
    key.name,
    key.secretHash,
    JSON.stringify(key.hostnameAllowlist),
    key.allowAnyHostname ? 1 : 0,
    key.autoApprove ? 1 : 0,
    JSON.stringify(servicePolicy),
    createdAt,
  );
  return { ...key, servicePolicy, createdAt, revokedAt: null, lastUsedAt: null };
}

/** What checking a presented key needs: no JSON column is read (every agent request does this). */
export type AgentKeyCredential = Pick<AgentKeyRecord, 'id' | 'secretHash' | 'revokedAt' | 'lastUsedAt'>;

export function findAgentKeyCredential(db: SqliteDatabase, id: string): AgentKeyCredential | undefined {
  const row = statement(
    db,
    'SELECT id, secret_hash, revoked_at, last_used_at FROM agent_keys WHERE id = ?',
  ).get(id) as Pick<AgentKeyRow, 'id' | 'secret_hash' | 'revoked_at' | 'last_used_at'> | undefined;
  return (
    row && {
      id: row.id,
      secretHash: row.secret_hash,
      revokedAt: row.revoked_at,
      lastUsedAt: row.last_used_at,
    }
  );
}

export function findAgentKey(db: SqliteDatabase, id: string): AgentKeyRecord | undefined {
  const row = statement(db, 'SELECT * FROM agent_keys WHERE id = ?').get(id) as AgentKeyRow | undefined;
  return row && toRecord(row);
}

export function listAgentKeys(db: SqliteDatabase): AgentKeyRecord[] {
  return (statement(db, 'SELECT * FROM agent_keys ORDER BY created_at, id').all() as AgentKeyRow[]).map(
    toRecord,
  );
}

/** Marks the key revoked; false when it does not exist or was already revoked. */
export function revokeAgentKey(db: SqliteDatabase, id: string): boolean {
  return (
    statement(db, 'UPDATE agent_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(
      isoNow(),
      id,
    ).changes === 1
  );
}

/**
 * Records that the key was used. Writes at most once a minute per key, so thousands of agents
 * heartbeating do not turn every request into a SQLite write; the key as just read says whether
 * it is due, so a request within the minute runs no statement at all.
 */
export function touchAgentKey(
  db: SqliteDatabase,
  key: Pick<AgentKeyRecord, 'id' | 'lastUsedAt'>,
  now = new Date(),
): void {
  const staleBefore = new Date(now.getTime() - 60_000).toISOString();
  if (key.lastUsedAt !== null && key.lastUsedAt >= staleBefore) return;
  statement(
    db,
    'UPDATE agent_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)',
  ).run(now.toISOString(), key.id, staleBefore);
}
