import { deadlineSignal } from '@tunnelfleet/common';
import type { AlertEventRecord, AlertReceiverRecord } from '../store/alerts.js';
import { renderAlert } from './alert-formats.js';
import { SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from './webhook-signature.js';

/**
 * Sends one event to one receiver (`signal` ends it early: the master is stopping). Resolves to undefined when the receiver answered 2xx, else to
 * why not. Never throws and never waits longer than `timeoutMs`, body included: a receiver that
 * hangs costs one slot for that long, nothing more.
 */
export async function sendWebhook(
  receiver: AlertReceiverRecord,
  event: AlertEventRecord,
  options: { timeoutMs: number; deliveryId: number; nowSeconds: number; signal: AbortSignal },
): Promise<string | undefined> {
  const rendered = renderAlert(receiver.format, event);
  const deadline = deadlineSignal(options.timeoutMs, options.signal);
  try {
    const response = await fetch(receiver.url, {
      method: 'POST',
      redirect: 'error',
      signal: deadline.signal,
      headers: {
        ...rendered.headers,
        'content-type': rendered.contentType,
        'user-agent': 'tunnelfleet-alerts',
        'x-tunnelfleet-event': event.type,
        'x-tunnelfleet-event-id': event.id,
        'x-tunnelfleet-delivery': String(options.deliveryId),
        [TIMESTAMP_HEADER]: String(options.nowSeconds),
        [SIGNATURE_HEADER]: signWebhook(receiver.secret, options.nowSeconds, rendered.body),
      },
      body: rendered.body,
    });
    // Read (and drop) the body so the connection is reused and a slow body is under the timeout too.
    await response.arrayBuffer();
    return response.ok ? undefined : `receiver answered HTTP ${response.status}`;
  } catch (error) {
    const err = error as Error;
    if (err.name === 'TimeoutError') return `no answer within ${options.timeoutMs} ms`;
    const cause = (err.cause as Error | undefined)?.message;
    return cause ? `${err.message}: ${cause}` : err.message;
  } finally {
    deadline.clear();
  }
}
