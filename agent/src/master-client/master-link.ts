import {
  MasterAuthRejectedError,
  MasterBusyError,
  type MasterClientError,
  MasterRateLimitedError,
} from './errors.js';

export interface MasterLinkState {
  /** The last request got an HTTP answer that was not a 5xx. */
  reachable: boolean;
  /** Epoch ms of the last such answer; undefined before the first one. */
  lastContactAt: number | undefined;
  /** The last answer was a 401: the key is revoked or unknown. */
  revoked: boolean;
}

interface MasterLinkListener {
  /** Reachable again after at least one failed request (not on the first contact). */
  onReconnected?(): void;
  /** Every 401; `first` is true on the change from accepted to rejected. */
  onRejected?(first: boolean): void;
  /** The key is accepted again after a rejection. */
  onAccepted?(): void;
}

export interface MasterLink {
  state(): MasterLinkState;
  recordSuccess(): void;
  recordFailure(error: MasterClientError): void;
  subscribe(listener: MasterLinkListener): () => void;
}

/**
 * What the agent knows of its connection to the master, fed by every request the client makes:
 * the health endpoint reads it, and the reporter learns from it when to send a catch-up snapshot.
 */
export function createMasterLink(now: () => number = Date.now): MasterLink {
  const state: MasterLinkState = { reachable: false, lastContactAt: undefined, revoked: false };
  let failedSinceContact = false;
  const listeners = new Set<MasterLinkListener>();
  const notify = (call: (listener: MasterLinkListener) => void) => {
    for (const listener of listeners) call(listener);
  };

  return {
    state: () => ({ ...state }),
    recordSuccess() {
      const reconnected = failedSinceContact && state.lastContactAt !== undefined;
      const wasRevoked = state.revoked;
      state.reachable = true;
      state.lastContactAt = now();
      state.revoked = false;
      failedSinceContact = false;
      if (wasRevoked) notify((l) => l.onAccepted?.());
      if (reconnected) notify((l) => l.onReconnected?.());
    },
    recordFailure(error) {
      if (error instanceof MasterAuthRejectedError) {
        // The master answered: it is reachable, but nothing else will work until the key changes.
        const first = !state.revoked;
        state.reachable = true;
        state.lastContactAt = now();
        state.revoked = true;
        failedSinceContact = true;
        notify((l) => l.onRejected?.(first));
        return;
      }
      if (!error.retryable || error instanceof MasterRateLimitedError || error instanceof MasterBusyError) {
        // A 4xx is an answer too: the link works; the request was wrong, or came too soon (a 429,
        // or a busy master's 503 asking to come back later).
        state.reachable = true;
        state.lastContactAt = now();
        return;
      }
      state.reachable = false;
      failedSinceContact = true;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
