import { type GatewayHeartbeat, MAX_REPORTED_REFUSALS } from '@tunnelfleet/common';
import type { GatewayStatus } from './supervisor.js';

/** The heartbeat's `gateway` section: what the master publishes routes through the gateway by. */
export function gatewayHeartbeat(status: GatewayStatus, image: string): GatewayHeartbeat {
  // More refusals than a heartbeat carries: the master could not withhold the rest, so the whole
  // gateway counts as not ready (fail closed) until a push is refused less.
  const reportable = status.refused.length <= MAX_REPORTED_REFUSALS;
  return {
    state: status.state,
    // Ready for the master once it serves a table: before that it routes nothing.
    ready: status.ready && status.tableVersion !== undefined && reportable,
    image,
    ...(status.serviceUrl ? { serviceUrl: status.serviceUrl } : {}),
    ...(status.tableVersion !== undefined ? { tableVersion: status.tableVersion } : {}),
    // Only when there are some: a master from before refusals refuses the field.
    ...(status.refused.length > 0 ? { refused: status.refused.slice(0, MAX_REPORTED_REFUSALS) } : {}),
  };
}
