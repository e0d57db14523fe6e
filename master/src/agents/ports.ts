import type {
  JoinSharedTunnelPayload,
  LeaveSharedTunnelPayload,
  SetGatewayRoutesPayload,
  StartTunnelPayload,
  StopTunnelPayload,
  UpdateTunnelPayload,
} from '@tunnelfleet/common';
import type { SyncTarget } from '../routes/route-targets.js';
import type { ContainerChange } from '../store/containers.js';

/**
 * What the agent service needs of the Cloudflare layer: the agent's own tunnel. `master.ts`
 * adapts the real layer (`master/src/cloudflare`) to this, so the agent code reads as the domain.
 * Making the tunnel, finding it and reading its token are in the call budget's enrolment share.
 */
export interface AgentTunnelProvider {
  /** Creates the tunnel, or returns the existing one of that name (idempotent by name). */
  ensureTunnel(name: string): Promise<{ id: string; name: string; accountId: string }>;
  /** The live tunnel of that name in the account, if any. */
  findTunnel(name: string): Promise<{ id: string } | undefined>;
  tunnelToken(tunnelId: string): Promise<string>;
  /** The token of a tunnel this master recorded, or undefined when it is gone at Cloudflare. */
  recordedTunnelToken(tunnelId: string): Promise<string | undefined>;
  /** Gives the tunnel a new secret (tokens made with the old one are refused); the new token. */
  rotateTunnelSecret(tunnelId: string): Promise<string>;
  /** Deletes the tunnel, dropping its connections; an already deleted tunnel is not an error. */
  deleteTunnel(tunnelId: string): Promise<void>;
}

/** A command as the master issues it; the gateway adds id, version, issue time and lease. */
export type CommandInput =
  | { type: 'start_tunnel'; payload: StartTunnelPayload }
  | { type: 'stop_tunnel'; payload: StopTunnelPayload }
  | { type: 'update_tunnel'; payload: UpdateTunnelPayload }
  | { type: 'join_shared_tunnel'; payload: JoinSharedTunnelPayload }
  | { type: 'leave_shared_tunnel'; payload: LeaveSharedTunnelPayload }
  | { type: 'set_gateway_routes'; payload: SetGatewayRoutesPayload };

/** The part of the command gateway (`master/src/commands`) the agent service drives. */
export interface AgentCommandSender {
  /**
   * Queues the command with a version above `afterVersion` (what the store knows was issued or
   * applied), whatever the Redis counter remembers; resolves with the version it got.
   */
  enqueue(
    agentId: string,
    command: CommandInput,
    options: { afterVersion: number },
  ): Promise<{ version: number }>;
  /** Ends the agent's open long-polls at the gateway. */
  closeAgent(agentId: string): Promise<unknown> | unknown;
  /** Drops everything queued for the agent. */
  purgeAgent(agentId: string): Promise<unknown> | unknown;
}

/** Which containers of an agent a report changed: only their services' routes need planning again. */
export interface ContainersChanged {
  changes: readonly ContainerChange[];
}

/**
 * Seams towards the routes engine and reconciler (master/src/routes, master/src/reconciler).
 * Each may be async; a hook that fails is logged and never undoes the request that triggered it
 * (the data is already in SQLite, and the periodic full reconcile catches up).
 */
export interface MasterHooks {
  /**
   * The `containers` rows of this agent changed (upserted, or marked `removed` — which a full
   * snapshot does for every container it no longer lists). Derive desired routes from them.
   * Called after the report's transaction committed, for pending agents too. Without a scope,
   * every container of the agent is planned again.
   */
  onContainersChanged(agentId: string, scope?: ContainersChanged): unknown;
  /**
   * The agent was revoked or deleted: its routes are already marked `revoked` and its tunnel
   * deleted; remove the DNS records, ingress rules and Access apps we own for those routes,
   * and hand contested hostnames over to the next claimant.
   */
  onAgentRevoked(agentId: string): unknown;
  /**
   * The agent was approved and its tunnel provisioned: routes that waited for the tunnel can be
   * carried now.
   */
  onAgentApproved(agentId: string): unknown;
  /**
   * Something the listed targets are built from changed outside the routes engine (e.g. a named
   * Access policy): sync them within the debounce instead of at the next full reconcile.
   */
  markDirty(targets: readonly SyncTarget[]): unknown;
  /** An operator asked for a full reconcile now (`POST /api/v1/admin/reconcile`). */
  requestReconcile(): Promise<{ jobId?: string } | undefined> | { jobId?: string } | undefined;
}

export const noopHooks: MasterHooks = {
  onContainersChanged: () => undefined,
  onAgentRevoked: () => undefined,
  onAgentApproved: () => undefined,
  markDirty: () => undefined,
  requestReconcile: () => undefined,
};
