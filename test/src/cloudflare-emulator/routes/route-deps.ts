import type { EmulatorState } from '../state.js';

/** What every route module needs; passed explicitly by the server. */
export interface RouteDeps {
  state: EmulatorState;
  /** Edge base URL embedded in tunnel tokens as "e" (EDGE-PROTOCOL.md), if any. */
  edgeUrl: () => string | undefined;
  /** Whether a connection is still live at this moment (heartbeat window). */
  connectionIsLive: (lastSeenMs: number) => boolean;
}
