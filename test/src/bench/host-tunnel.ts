import { waitFor } from '../harness/wait-for.js';
import type { Fleet, FleetHost } from '../system/fleet.js';

/** The id of `host`'s own tunnel, once the master has made it. */
export async function hostTunnelId(fleet: Fleet, host: FleetHost): Promise<string> {
  const agentId = await host.agentId();
  return waitFor(async () => (await fleet.admin.agent(agentId)).tunnel?.id, {
    description: `${host.name}'s tunnel`,
    timeoutMs: 30_000,
  });
}
