import type { AlertEventType, CloudflaredStatus } from '@tunnelfleet/common';

/** cloudflared runs and has an edge connection (its `/ready` answered 200). */
function healthy(status: CloudflaredStatus): boolean {
  return status.state === 'running' && status.ready;
}

/**
 * The alerts one heartbeat raises, from the agent's previous report and this one: the agent came
 * back, or its cloudflared went down / lost the edge, or recovered. Only changes alert, so a host
 * whose cloudflared stays down raises one alert, not one per heartbeat; a first report (nothing to
 * compare with, e.g. cloudflared still starting) raises none.
 */
export function heartbeatAlerts(
  previous: { cloudflared: CloudflaredStatus } | null,
  current: { cloudflared: CloudflaredStatus },
  cameBack: boolean,
): { type: AlertEventType; data: Record<string, unknown> }[] {
  const alerts: { type: AlertEventType; data: Record<string, unknown> }[] = [];
  if (cameBack) alerts.push({ type: 'agent.online', data: {} });
  if (previous) {
    const was = healthy(previous.cloudflared);
    const is = healthy(current.cloudflared);
    const data = { state: current.cloudflared.state, ready: current.cloudflared.ready };
    if (was && !is) alerts.push({ type: 'cloudflared.unhealthy', data });
    if (!was && is) alerts.push({ type: 'cloudflared.recovered', data });
  }
  return alerts;
}
