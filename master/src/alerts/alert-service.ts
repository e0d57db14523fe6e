import { randomBytes } from 'node:crypto';
import {
  type AlertDeliveryView,
  type AlertReceiverView,
  type CreateAlertReceiverRequest,
  type CreateAlertReceiverResponse,
  createAlertReceiverRequestSchema,
  createSecretMasker,
  NotFoundError,
  scrubSecretFields,
  type UpdateAlertReceiverRequest,
} from '@tunnelfleet/common';
import type { Logger } from 'pino';
import {
  type AlertReceiverRecord,
  type DueDelivery,
  deleteAlertReceiver,
  dueAlertDeliveries,
  fanOutAlertEvents,
  findAlertReceiver,
  insertAlertEvent,
  insertAlertReceiver,
  listAlertDeliveries,
  listAlertReceivers,
  nextAlertRetryAt,
  pruneAlertEvents,
  recordAlertAttemptFailed,
  recordAlertDelivered,
  updateAlertReceiver,
} from '../store/alerts.js';
import { type AuditActor, recordAudit } from '../store/audit-log.js';
import type { SqliteDatabase } from '../store/database.js';
import type { AlertSink } from './alert-sink.js';
import { type RetryPolicy, retryDelayMs } from './retry-backoff.js';
import { sendWebhook } from './webhook-sender.js';

export interface AlertServiceDeps {
  db: SqliteDatabase;
  logger: Logger;
  retry: RetryPolicy;
  /** Longest wait for one receiver's answer. */
  timeoutMs: number;
  /** Literal secrets masked out of event data (the master's Cloudflare and admin tokens). */
  secrets?: readonly string[];
  /** How often the outbox is looked at for events written by SQLite triggers (route status). */
  pollMs?: number;
  now?: () => number;
}

/** Deliveries in flight at once; more wait for a free slot, in the outbox. */
const MAX_IN_FLIGHT = 16;
/** Finished events are kept this long for `alerts deliveries`. */
const RETENTION_MS = 7 * 24 * 3600 * 1000;

export type AlertService = ReturnType<typeof createAlertService>;

/** Only the origin: the path of a Slack or Discord webhook, or an ntfy topic, is itself a credential. */
function receiverView(receiver: AlertReceiverRecord): AlertReceiverView {
  const { secret: _secret, url, ...rest } = receiver;
  return { ...rest, urlOrigin: new URL(url).origin };
}

/**
 * Webhook alerts: receivers (admin API), the outbox every event goes through, and the worker that
 * delivers it. Events and pending deliveries are SQLite rows, so a master restart loses none; a
 * delivery interrupted by a crash is sent again (receivers dedupe on the event id).
 */
export function createAlertService(deps: AlertServiceDeps) {
  const { db, logger } = deps;
  const now = deps.now ?? Date.now;
  const mask = createSecretMasker(deps.secrets);
  const inFlight = new Set<number>();
  let timer: NodeJS.Timeout | undefined;
  let poller: NodeJS.Timeout | undefined;
  let closed = false;
  const sends = new Set<Promise<void>>();
  const stopping = new AbortController();

  const iso = (ms = now()) => new Date(ms).toISOString();

  function requireReceiver(id: string): AlertReceiverRecord {
    const receiver = findAlertReceiver(db, id);
    if (!receiver) throw new NotFoundError(`alert receiver ${id} not found`);
    return receiver;
  }

  /** Writes the event to the outbox and wakes the worker; returns the event's outbox position. */
  function enqueue(
    type: Parameters<AlertSink['emit']>[0],
    data: Record<string, unknown>,
    receiverId?: string,
  ) {
    const clean = JSON.parse(mask(JSON.stringify(scrubSecretFields(data)))) as Record<string, unknown>;
    const seq = insertAlertEvent(db, {
      type,
      occurredAt: iso(),
      data: clean,
      ...(receiverId ? { receiverId } : {}),
    });
    wake();
    return seq;
  }

  const sink: AlertSink = {
    emit(type, data) {
      try {
        enqueue(type, data);
      } catch (error) {
        // An alert must never break what raised it; the cause is already in the log line.
        logger.error({ err: error, type }, 'could not record an alert event');
      }
    },
  };

  function settle(delivery: DueDelivery, problem: string | undefined): void {
    if (problem === undefined) {
      recordAlertDelivered(db, delivery.id, iso());
      return;
    }
    const attempts = delivery.attempts + 1;
    const delay = retryDelayMs(attempts, deps.retry);
    recordAlertAttemptFailed(db, delivery.id, problem, delay === undefined ? undefined : iso(now() + delay));
    const context = { receiverId: delivery.receiver.id, event: delivery.event.type, attempts, problem };
    if (delay === undefined) logger.error(context, 'alert delivery failed for good');
    else logger.warn({ ...context, retryInMs: delay }, 'alert delivery failed; retrying');
  }

  function startSend(delivery: DueDelivery): void {
    inFlight.add(delivery.id);
    const send = sendWebhook(delivery.receiver, delivery.event, {
      timeoutMs: deps.timeoutMs,
      deliveryId: delivery.id,
      nowSeconds: Math.floor(now() / 1000),
      signal: stopping.signal,
    })
      .then((problem) => {
        if (!closed) settle(delivery, problem);
      })
      .catch((error: unknown) => logger.error({ err: error }, 'alert delivery bookkeeping failed'))
      .finally(() => {
        inFlight.delete(delivery.id);
        sends.delete(send);
        wake();
      });
    sends.add(send);
  }

  /** One pass: fan out new events, start what is due, and sleep until the next retry is due. */
  function tick(): void {
    if (closed) return;
    try {
      fanOutAlertEvents(db, iso());
      const free = MAX_IN_FLIGHT - inFlight.size;
      if (free > 0) for (const delivery of dueAlertDeliveries(db, iso(), inFlight, free)) startSend(delivery);
      // Due ones beyond the free slots start when a send finishes (it wakes the worker).
      const next = nextAlertRetryAt(db, iso());
      if (next !== undefined) schedule(Math.max(1, Date.parse(next) - now()));
    } catch (error) {
      logger.error({ err: error }, 'alert outbox pass failed; retrying at the next poll');
    }
  }

  function schedule(ms: number): void {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(tick, ms);
    timer.unref();
  }

  function wake(): void {
    schedule(0);
  }

  return {
    sink,

    /** Starts delivering, including what an earlier run left pending. */
    start(): void {
      pruneAlertEvents(db, iso(now() - RETENTION_MS));
      poller = setInterval(tick, deps.pollMs ?? 1000);
      poller.unref();
      wake();
    },

    /**
     * Stops the worker and cuts sends in flight short: their rows stay pending (an interrupted
     * attempt is not counted) and the next start sends them again.
     */
    async close(): Promise<void> {
      closed = true;
      clearTimeout(timer);
      clearInterval(poller);
      stopping.abort();
      await Promise.allSettled([...sends]);
    },

    createReceiver(input: CreateAlertReceiverRequest, actor: AuditActor): CreateAlertReceiverResponse {
      const body = createAlertReceiverRequestSchema.parse(input);
      const at = iso();
      const receiver: AlertReceiverRecord = {
        id: `ar_${randomBytes(8).toString('hex')}`,
        ...body,
        secret: `tfw_${randomBytes(32).toString('base64url')}`,
        createdAt: at,
        updatedAt: at,
      };
      insertAlertReceiver(db, receiver);
      recordAudit(db, {
        actor,
        action: 'alerts.receiver.create',
        target: receiver.id,
        details: { name: body.name, format: body.format, events: body.events },
      });
      return { secret: receiver.secret, receiver: receiverView(receiver) };
    },

    listReceivers: (): AlertReceiverView[] => listAlertReceivers(db).map(receiverView),

    getReceiver: (id: string): AlertReceiverView => receiverView(requireReceiver(id)),

    updateReceiver(id: string, changes: UpdateAlertReceiverRequest, actor: AuditActor): AlertReceiverView {
      const updated = { ...requireReceiver(id), ...changes, updatedAt: iso() };
      updateAlertReceiver(db, updated);
      recordAudit(db, {
        actor,
        action: 'alerts.receiver.update',
        target: id,
        // The URL may hold a credential (Slack/Discord path, ntfy topic): name what changed, not to what.
        details: { changed: Object.keys(changes) },
      });
      return receiverView(updated);
    },

    removeReceiver(id: string, actor: AuditActor): void {
      if (!deleteAlertReceiver(db, id)) throw new NotFoundError(`alert receiver ${id} not found`);
      recordAudit(db, { actor, action: 'alerts.receiver.delete', target: id });
    },

    /** Queues an `alert.test` event for this receiver only (also when it is disabled) and sends it now. */
    sendTest(id: string, actor: AuditActor): AlertDeliveryView {
      const receiver = requireReceiver(id);
      const seq = enqueue('alert.test', { receiverId: id, receiverName: receiver.name }, id);
      recordAudit(db, { actor, action: 'alerts.receiver.test', target: id });
      fanOutAlertEvents(db, iso());
      return listAlertDeliveries(db, { eventSeq: seq, limit: 1 })[0]!;
    },

    listDeliveries: (filter: Parameters<typeof listAlertDeliveries>[1]) => listAlertDeliveries(db, filter),
  };
}
