import type { NamedAccessPolicySpec } from '@tunnelfleet/common';
import type { SqliteDatabase } from './database.js';
import { isoNow, parseJsonColumn, statement } from './statements.js';

/** A named Access policy defined on the master; the reconciler pushes it to Cloudflare. */
export interface AccessPolicyRecord {
  id: string;
  name: string;
  /** Validated by the admin API before it is written. */
  spec: NamedAccessPolicySpec;
  cfPolicyId: string | null;
  createdAt: string;
  updatedAt: string;
}

interface AccessPolicyRow {
  id: string;
  name: string;
  spec: string;
  cf_policy_id: string | null;
  created_at: string;
  updated_at: string;
}

function toRecord(row: AccessPolicyRow): AccessPolicyRecord {
  return {
    id: row.id,
    name: row.name,
    spec: parseJsonColumn(row.spec, {}) as NamedAccessPolicySpec,
    cfPolicyId: row.cf_policy_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function insertAccessPolicy(
  db: SqliteDatabase,
  policy: { id: string; name: string; spec: NamedAccessPolicySpec },
): AccessPolicyRecord {
  const at = isoNow();
  statement(
    db,
    'INSERT INTO access_policies (id, name, spec, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
  ).run(policy.id, policy.name, JSON.stringify(policy.spec), at, at);
  return findAccessPolicy(db, policy.id)!;
}

export function findAccessPolicy(db: SqliteDatabase, id: string): AccessPolicyRecord | undefined {
  const row = statement(db, 'SELECT * FROM access_policies WHERE id = ?').get(id) as
    | AccessPolicyRow
    | undefined;
  return row && toRecord(row);
}

export function findAccessPolicyByName(db: SqliteDatabase, name: string): AccessPolicyRecord | undefined {
  const row = statement(db, 'SELECT * FROM access_policies WHERE name = ?').get(name) as
    | AccessPolicyRow
    | undefined;
  return row && toRecord(row);
}

export function listAccessPolicies(db: SqliteDatabase): AccessPolicyRecord[] {
  return (statement(db, 'SELECT * FROM access_policies ORDER BY name').all() as AccessPolicyRow[]).map(
    toRecord,
  );
}

export function updateAccessPolicy(
  db: SqliteDatabase,
  id: string,
  changes: { name?: string; spec?: NamedAccessPolicySpec },
): AccessPolicyRecord | undefined {
  const current = findAccessPolicy(db, id);
  if (!current) return undefined;
  statement(db, 'UPDATE access_policies SET name = ?, spec = ?, updated_at = ? WHERE id = ?').run(
    changes.name ?? current.name,
    JSON.stringify(changes.spec ?? current.spec),
    isoNow(),
    id,
  );
  return findAccessPolicy(db, id);
}

/** Records the id Cloudflare gave the policy of that name (after a sync pushed it). */
export function setAccessPolicyCfId(db: SqliteDatabase, name: string, cfPolicyId: string): void {
  statement(db, 'UPDATE access_policies SET cf_policy_id = ? WHERE name = ? AND cf_policy_id IS NOT ?').run(
    cfPolicyId,
    name,
    cfPolicyId,
  );
}

export function deleteAccessPolicy(db: SqliteDatabase, id: string): boolean {
  return statement(db, 'DELETE FROM access_policies WHERE id = ?').run(id).changes === 1;
}
