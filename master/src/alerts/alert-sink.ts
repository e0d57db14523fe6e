import type { AlertEventType } from '@tunnelfleet/common';

/**
 * The port through which the master's services raise alerts. `emit` only writes the event to the
 * SQLite outbox and returns: delivery happens later, so a slow or dead receiver never holds up the
 * code that noticed something. `data` carries ids, names and messages, never a secret (the alert
 * service scrubs secret-named fields and masks secret shapes all the same).
 */
export interface AlertSink {
  emit(type: AlertEventType, data: Record<string, unknown>): void;
}
