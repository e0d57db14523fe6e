import { SECRET_TOKEN_PATTERN } from '@tunnelfleet/common';
import type { SqliteDatabase } from './database.js';
import { isoNow, parseJsonColumn, statement } from './statements.js';

/**
 * `admin` (the admin token, e.g. the CLI), `agent:<id>`, `system` (reconciler, cron, revocation
 * follow-ups), or a dashboard session: `dashboard:admin:<session ref>` or
 * `dashboard:viewer:<viewer token id>:<session ref>` (see `sessions/session-service.ts`).
 */
export type AuditActor = 'admin' | 'system' | `agent:${string}` | `dashboard:${string}`;

interface AuditEntryInput {
  actor: AuditActor;
  /** Dotted verb, e.g. `agent.revoke`, `cloudflare.tunnel.delete`, `cloudflare.dns.create`. */
  action: string;
  target?: string | null;
  details?: Record<string, unknown>;
}

interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
}

type AuditRow = Omit<AuditEntry, 'details'> & { details: string };

function toEntry(row: AuditRow): AuditEntry {
  return { ...row, details: parseJsonColumn(row.details, {}) };
}

/**
 * Appends to the audit log: every admin action and every Cloudflare write goes through here.
 * Details must not hold secrets; as a last line of defence anything shaped like one of our keys or
 * tokens is replaced before it is written.
 */
export function recordAudit(db: SqliteDatabase, entry: AuditEntryInput): number {
  const details = JSON.stringify(entry.details ?? {}).replace(SECRET_TOKEN_PATTERN, '[redacted]');
  const result = statement(
    db,
    'INSERT INTO audit_log (at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)',
  ).run(isoNow(), entry.actor, entry.action, entry.target ?? null, details);
  return Number(result.lastInsertRowid);
}

interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `before` to get the next (older) page; null on the last page. */
  nextBefore: number | null;
}

/** Newest first, keyset-paged by id so pages stay stable while entries are appended. */
export function listAudit(
  db: SqliteDatabase,
  options: { limit: number; before?: number; action?: string; target?: string },
): AuditPage {
  const rows = statement(
    db,
    `SELECT * FROM audit_log WHERE id < ? AND (? IS NULL OR action = ?) AND (? IS NULL OR target = ?)
     ORDER BY id DESC LIMIT ?`,
  ).all(
    options.before ?? Number.MAX_SAFE_INTEGER,
    options.action ?? null,
    options.action ?? null,
    options.target ?? null,
    options.target ?? null,
    options.limit + 1,
  ) as AuditRow[];
  const page = rows.slice(0, options.limit);
  return {
    entries: page.map(toEntry),
    nextBefore: rows.length > options.limit ? (page.at(-1)?.id ?? null) : null,
  };
}

/** Entries whose details name `hostname` (as a JSON string), newest first: a route's history. */
export function auditMentioning(db: SqliteDatabase, hostname: string, limit: number): AuditEntry[] {
  const rows = statement(
    db,
    'SELECT * FROM audit_log WHERE instr(details, ?) > 0 OR target = ? ORDER BY id DESC LIMIT ?',
  ).all(JSON.stringify(hostname), hostname, limit) as AuditRow[];
  return rows.map(toEntry);
}
