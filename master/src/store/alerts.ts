import type { AlertDeliveryView, AlertEventType, AlertFormat } from '@tunnelfleet/common';
import type { SqliteDatabase } from './database.js';
import { parseJsonColumn, statement } from './statements.js';

/** One row of `alert_receivers`; `secret` is the HMAC key and never leaves the master. */
export interface AlertReceiverRecord {
  id: string;
  name: string;
  url: string;
  format: AlertFormat;
  events: AlertEventType[];
  secret: string;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

interface ReceiverRow {
  id: string;
  name: string;
  url: string;
  format: AlertFormat;
  events: string;
  secret: string;
  enabled: number;
  created_at: string;
  updated_at: string;
}

function toReceiver(row: ReceiverRow): AlertReceiverRecord {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    format: row.format,
    events: parseJsonColumn(row.events, []),
    secret: row.secret,
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function insertAlertReceiver(db: SqliteDatabase, receiver: AlertReceiverRecord): void {
  statement(
    db,
    `INSERT INTO alert_receivers (id, name, url, format, events, secret, enabled, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    receiver.id,
    receiver.name,
    receiver.url,
    receiver.format,
    JSON.stringify(receiver.events),
    receiver.secret,
    receiver.enabled ? 1 : 0,
    receiver.createdAt,
    receiver.updatedAt,
  );
}

export function updateAlertReceiver(db: SqliteDatabase, receiver: AlertReceiverRecord): void {
  statement(
    db,
    `UPDATE alert_receivers SET name = ?, url = ?, format = ?, events = ?, enabled = ?, updated_at = ?
     WHERE id = ?`,
  ).run(
    receiver.name,
    receiver.url,
    receiver.format,
    JSON.stringify(receiver.events),
    receiver.enabled ? 1 : 0,
    receiver.updatedAt,
    receiver.id,
  );
}

export function findAlertReceiver(db: SqliteDatabase, id: string): AlertReceiverRecord | undefined {
  const row = statement(db, 'SELECT * FROM alert_receivers WHERE id = ?').get(id) as ReceiverRow | undefined;
  return row && toReceiver(row);
}

export function listAlertReceivers(db: SqliteDatabase): AlertReceiverRecord[] {
  return (statement(db, 'SELECT * FROM alert_receivers ORDER BY created_at, id').all() as ReceiverRow[]).map(
    toReceiver,
  );
}

/** Deletes the receiver and, by cascade, its deliveries (pending ones are dropped with it). */
export function deleteAlertReceiver(db: SqliteDatabase, id: string): boolean {
  return statement(db, 'DELETE FROM alert_receivers WHERE id = ?').run(id).changes === 1;
}

/** An event as the outbox holds it. */
export interface AlertEventRecord {
  seq: number;
  id: string;
  type: AlertEventType;
  occurredAt: string;
  data: Record<string, unknown>;
  receiverId: string | null;
}

interface EventRow {
  seq: number;
  id: string;
  type: AlertEventType;
  occurred_at: string;
  data: string;
  receiver_id: string | null;
}

function toEvent(row: EventRow): AlertEventRecord {
  return {
    seq: row.seq,
    id: row.id,
    type: row.type,
    occurredAt: row.occurred_at,
    data: parseJsonColumn(row.data, {}),
    receiverId: row.receiver_id,
  };
}

export function insertAlertEvent(
  db: SqliteDatabase,
  event: { type: AlertEventType; occurredAt: string; data: Record<string, unknown>; receiverId?: string },
): number {
  return Number(
    statement(db, 'INSERT INTO alert_events (type, occurred_at, data, receiver_id) VALUES (?, ?, ?, ?)').run(
      event.type,
      event.occurredAt,
      JSON.stringify(event.data),
      event.receiverId ?? null,
    ).lastInsertRowid,
  );
}

export function findAlertEvent(db: SqliteDatabase, seq: number): AlertEventRecord | undefined {
  const row = statement(db, 'SELECT * FROM alert_events WHERE seq = ?').get(seq) as EventRow | undefined;
  return row && toEvent(row);
}

/**
 * Turns every event not yet fanned out into one pending delivery per enabled receiver that wants
 * it (a test event: its one receiver, enabled or not), in one transaction: an event is fanned out exactly once, also across a restart.
 */
export function fanOutAlertEvents(db: SqliteDatabase, at: string): number {
  return db.transaction(() => {
    const events = (
      statement(db, 'SELECT * FROM alert_events WHERE fanned_out = 0 ORDER BY seq').all() as EventRow[]
    ).map(toEvent);
    if (events.length === 0) return 0;
    const receivers = listAlertReceivers(db);
    const insert = statement(
      db,
      `INSERT INTO alert_deliveries (event_seq, receiver_id, next_attempt_at, created_at) VALUES (?, ?, ?, ?)`,
    );
    let created = 0;
    for (const event of events) {
      for (const receiver of receivers) {
        const wanted =
          event.receiverId !== null
            ? event.receiverId === receiver.id
            : receiver.enabled && (receiver.events.length === 0 || receiver.events.includes(event.type));
        if (!wanted) continue;
        insert.run(event.seq, receiver.id, at, at);
        created++;
      }
      statement(db, 'UPDATE alert_events SET fanned_out = 1 WHERE seq = ?').run(event.seq);
    }
    return created;
  })();
}

/** A pending delivery with what sending it needs. */
export interface DueDelivery {
  id: number;
  attempts: number;
  receiver: AlertReceiverRecord;
  event: AlertEventRecord;
}

export function dueAlertDeliveries(
  db: SqliteDatabase,
  at: string,
  skip: ReadonlySet<number>,
  limit: number,
): DueDelivery[] {
  const rows = statement(
    db,
    `SELECT id, attempts, event_seq, receiver_id FROM alert_deliveries
     WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`,
  ).all(at, limit + skip.size) as { id: number; attempts: number; event_seq: number; receiver_id: string }[];
  const due: DueDelivery[] = [];
  for (const row of rows) {
    if (skip.has(row.id) || due.length >= limit) continue;
    const receiver = findAlertReceiver(db, row.receiver_id);
    const event = findAlertEvent(db, row.event_seq);
    if (receiver && event) due.push({ id: row.id, attempts: row.attempts, receiver, event });
  }
  return due;
}

/** Earliest retry due after `after`, if any: when the worker should look again. */
export function nextAlertRetryAt(db: SqliteDatabase, after: string): string | undefined {
  const row = statement(
    db,
    "SELECT MIN(next_attempt_at) AS at FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at > ?",
  ).get(after) as { at: string | null };
  return row.at ?? undefined;
}

export function recordAlertDelivered(db: SqliteDatabase, id: number, at: string): void {
  statement(
    db,
    `UPDATE alert_deliveries SET status = 'delivered', attempts = attempts + 1, next_attempt_at = NULL,
       last_error = NULL, delivered_at = ? WHERE id = ?`,
  ).run(at, id);
}

/** A failed attempt: retried at `retryAt`, or given up (`failed`) when there is none. */
export function recordAlertAttemptFailed(
  db: SqliteDatabase,
  id: number,
  error: string,
  retryAt: string | undefined,
): void {
  statement(
    db,
    `UPDATE alert_deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?
     WHERE id = ?`,
  ).run(retryAt ? 'pending' : 'failed', retryAt ?? null, error, id);
}

interface DeliveryViewRow {
  id: number;
  receiver_id: string;
  event_id: string;
  event_type: AlertEventType;
  status: AlertDeliveryView['status'];
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

const DELIVERY_VIEW = `SELECT d.id, d.receiver_id, e.id AS event_id, e.type AS event_type, d.status, d.attempts,
  d.next_attempt_at, d.last_error, d.created_at, d.delivered_at
  FROM alert_deliveries d JOIN alert_events e ON e.seq = d.event_seq`;

function toDeliveryView(row: DeliveryViewRow): AlertDeliveryView {
  return {
    id: row.id,
    receiverId: row.receiver_id,
    eventId: row.event_id,
    eventType: row.event_type,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
  };
}

/** Newest first. */
export function listAlertDeliveries(
  db: SqliteDatabase,
  filter: { receiverId?: string; status?: AlertDeliveryView['status']; eventSeq?: number; limit: number },
): AlertDeliveryView[] {
  const rows = statement(
    db,
    `${DELIVERY_VIEW}
     WHERE (@receiverId IS NULL OR d.receiver_id = @receiverId) AND (@status IS NULL OR d.status = @status)
       AND (@eventSeq IS NULL OR d.event_seq = @eventSeq)
     ORDER BY d.id DESC LIMIT @limit`,
  ).all({
    receiverId: filter.receiverId ?? null,
    status: filter.status ?? null,
    eventSeq: filter.eventSeq ?? null,
    limit: filter.limit,
  }) as DeliveryViewRow[];
  return rows.map(toDeliveryView);
}

/** Drops events older than `before` whose deliveries are all finished (their deliveries go with them). */
export function pruneAlertEvents(db: SqliteDatabase, before: string): void {
  statement(
    db,
    `DELETE FROM alert_events WHERE fanned_out = 1 AND occurred_at < ?
       AND NOT EXISTS (SELECT 1 FROM alert_deliveries WHERE event_seq = alert_events.seq AND status = 'pending')`,
  ).run(before);
}
