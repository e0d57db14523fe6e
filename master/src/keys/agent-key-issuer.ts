import { generateApiKey, parseApiKey, type ServicePolicy } from '@tunnelfleet/common';
import {
  type AgentKeyCredential,
  type AgentKeyRecord,
  findAgentKeyCredential,
  insertAgentKey,
} from '../store/agent-keys.js';
import type { SqliteDatabase } from '../store/database.js';
import { hashSecret, secretMatchesHash } from './secret-hash.js';

export interface NewAgentKey {
  /** The full key (`tfk_<id>_<secret>`): returned once, never stored, never logged. */
  key: string;
  record: AgentKeyRecord;
}

export function issueAgentKey(
  db: SqliteDatabase,
  options: Pick<AgentKeyRecord, 'name' | 'hostnameAllowlist' | 'allowAnyHostname' | 'autoApprove'> & {
    servicePolicy?: ServicePolicy;
  },
): NewAgentKey {
  const { key, keyId, secret } = generateApiKey();
  const record = insertAgentKey(db, {
    id: keyId,
    name: options.name,
    secretHash: hashSecret(secret),
    hostnameAllowlist: options.hostnameAllowlist,
    allowAnyHostname: options.allowAnyHostname,
    autoApprove: options.autoApprove,
    ...(options.servicePolicy ? { servicePolicy: options.servicePolicy } : {}),
  });
  return { key, record };
}

/**
 * The key a presented bearer value belongs to, or null. Looked up by its public id, then the
 * secret is compared in constant time. A revoked key is returned (the caller answers 401 and may
 * say so); a malformed or unknown one is null. Only the credential is read: the key's allowlist
 * and policy are for the few handlers that need them (`findAgentKey`).
 */
export function findPresentedAgentKey(db: SqliteDatabase, presented: string): AgentKeyCredential | null {
  const parts = parseApiKey(presented);
  if (!parts) return null;
  const record = findAgentKeyCredential(db, parts.keyId);
  if (!record) return null;
  return secretMatchesHash(parts.secret, record.secretHash) ? record : null;
}
