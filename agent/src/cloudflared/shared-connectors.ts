import type { Logger, SharedTunnelState } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { CLOUDFLARED_LABELS, managedLabelFilter } from './container-spec.js';
import { type CloudflaredStatus, type CloudflaredSupervisor, runningFor } from './supervisor.js';

interface SharedConnectorsOptions {
  docker: Docker;
  logger: Logger;
  agentId: string;
  /** A supervisor that runs only this shared tunnel's connector (`sharedTunnelId` set). */
  makeSupervisor(sharedTunnelId: string): CloudflaredSupervisor;
}

export interface SharedConnectors {
  /** Runs (or keeps, or replaces when its token, image or settings changed) the tunnel's connector. */
  join(tunnel: SharedTunnelState): Promise<CloudflaredStatus>;
  /** Stops and removes the tunnel's connector; false when none ran. */
  leave(tunnelId: string): Promise<boolean>;
  /**
   * Removes the connectors of shared tunnels other than `keep`: one whose leave was persisted but
   * not carried out before the agent stopped, or one of a previous identity.
   */
  removeOthers(keep: readonly string[]): Promise<void>;
  statuses(): Array<{ tunnelId: string; status: CloudflaredStatus }>;
  /** Stops supervising; connectors keep serving unless `removeContainer` is set. */
  stop(options?: { removeContainer?: boolean }): Promise<void>;
}

/**
 * The connectors this agent runs for shared tunnels, each beside its own cloudflared and each
 * under its own supervisor (restarts with backoff, readiness, exit diagnosis, as for its own).
 */
export function createSharedConnectors(options: SharedConnectorsOptions): SharedConnectors {
  const logger = options.logger.child({ component: 'shared-connectors' });
  const supervisors = new Map<string, CloudflaredSupervisor>();
  const keyOf = (tunnelId: string) => tunnelId.toLowerCase();

  const supervisorFor = (tunnelId: string) => {
    let supervisor = supervisors.get(keyOf(tunnelId));
    if (!supervisor) {
      supervisor = options.makeSupervisor(keyOf(tunnelId));
      supervisors.set(keyOf(tunnelId), supervisor);
    }
    return supervisor;
  };

  const removeConnector = async (tunnelId: string) => {
    const supervisor = supervisorFor(tunnelId);
    supervisors.delete(keyOf(tunnelId));
    await supervisor.apply({ state: 'stopped', tunnelId });
    await supervisor.stop();
  };

  return {
    join(tunnel) {
      return supervisorFor(tunnel.tunnelId).apply(runningFor(tunnel));
    },

    async leave(tunnelId) {
      const ran = supervisors.get(keyOf(tunnelId))?.status().containerId !== undefined;
      await removeConnector(tunnelId);
      return ran;
    },

    async removeOthers(keep) {
      const kept = new Set(keep.map(keyOf));
      const containers = await options.docker.listContainers({
        all: true,
        filters: { label: [...managedLabelFilter(options.agentId), CLOUDFLARED_LABELS.sharedTunnel] },
      });
      const leftovers = new Set(
        containers
          .map((c) => c.Labels[CLOUDFLARED_LABELS.sharedTunnel])
          .filter((id): id is string => id !== undefined && !kept.has(keyOf(id))),
      );
      for (const tunnelId of leftovers) {
        logger.info({ tunnelId }, 'removing the connector of a shared tunnel this agent no longer runs');
        await removeConnector(tunnelId);
      }
    },

    statuses: () =>
      [...supervisors].map(([tunnelId, supervisor]) => ({ tunnelId, status: supervisor.status() })),

    async stop(stopOptions) {
      for (const supervisor of supervisors.values()) await supervisor.stop(stopOptions);
      supervisors.clear();
    },
  };
}
