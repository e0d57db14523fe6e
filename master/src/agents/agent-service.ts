import { randomBytes } from 'node:crypto';
import {
  AuthenticationError,
  ConflictError,
  checkLabelPrefixes,
  createKeyedMutex,
  ForbiddenError,
  type LabelPrefixes,
  NotFoundError,
  POST_QUANTUM_NEEDS_QUIC,
  type PutCloudflaredRequest,
  postQuantumNeedsQuic,
  type RegisterRequest,
  type RegisterResponse,
  ROLLOUT_DEFAULTS,
  type RolloutOptions,
  type ServicePolicy,
  type SetGatewayRoutesPayload,
  type StartRolloutRequest,
  ValidationError,
} from '@tunnelfleet/common';
import type { Logger } from 'pino';
import type { AlertSink } from '../alerts/alert-sink.js';
import { issueAgentKey, type NewAgentKey } from '../keys/agent-key-issuer.js';
import type { RetainedRouteService } from '../routes/retained-route-service.js';
import { type AgentKeyRecord, findAgentKey, revokeAgentKey } from '../store/agent-keys.js';
import {
  type AgentRecord,
  approveAgent,
  deleteAgentRow,
  findAgent,
  findAgentByKey,
  insertAgent,
  listAgentIdsAwaitingTunnel,
  listAgents,
  raiseCommandVersion,
  revokeAgent,
  setAgentLastSeen,
  setAgentPaused,
  updateAgentRegistration,
} from '../store/agents.js';
import { type AuditActor, recordAudit } from '../store/audit-log.js';
import {
  type CloudflaredConfig,
  findCloudflaredConfig,
  saveCloudflaredConfig,
} from '../store/cloudflared-configs.js';
import { findRunningRollout, insertRollout } from '../store/cloudflared-rollouts.js';
import type { SqliteDatabase } from '../store/database.js';
import { markAgentRoutesRevoked } from '../store/routes.js';
import { listAgentSharedTunnels } from '../store/shared-tunnels.js';
import { detachAgentTunnels, findAgentTunnel, markTunnelDeleted, upsertTunnel } from '../store/tunnels.js';
import { type EffectiveCloudflared, effectiveCloudflared, mergeCloudflared } from './cloudflared-config.js';
import type { HeartbeatStore } from './heartbeats.js';
import type { AgentCommandSender, AgentTunnelProvider, CommandInput, MasterHooks } from './ports.js';
import { planRolloutWaves, type RolloutCandidate } from './rollout-plan.js';

/** Agent ids we issue; only ids of this shape are adopted from an agent's cache. */
const AGENT_ID = /^ag_[0-9a-f]{16}$/;

export function agentTunnelName(agentId: string): string {
  return `tunnelfleet-${agentId}`;
}

export interface AgentServiceDeps {
  db: SqliteDatabase;
  tunnels: AgentTunnelProvider;
  commands: AgentCommandSender;
  heartbeats: HeartbeatStore;
  hooks: MasterHooks;
  /** Retained routes end with their agent. */
  retainedRoutes: Pick<RetainedRouteService, 'releaseAgent'>;
  alerts: AlertSink;
  logger: Logger;
  /** The image when neither the fleet nor the agent names one (`CLOUDFLARED_IMAGE`). */
  cloudflaredImage: string;
  reportIntervalSeconds: number;
  /** A rollout was started: the rollout driver takes its first wave now, not at its next tick. */
  onRolloutStarted?: () => void;
  /**
   * The agent was revoked while a member of shared tunnels, whose tokens it holds: the shared
   * tunnel service gives those tunnels new secrets (late-bound: that service is built on this one).
   */
  onSharedMemberRevoked?: (agentId: string) => Promise<void>;
}

export type AgentService = ReturnType<typeof createAgentService>;

/**
 * Registration, approval, revocation and deletion of agents: the decisions, each recorded in the
 * audit log. Cloudflare and Redis are reached through the injected ports only.
 */
export function createAgentService(deps: AgentServiceDeps) {
  const { db, logger } = deps;

  /**
   * The agent as it is now, or undefined once it or its key is revoked (or it is deleted). Every
   * await of a registration or an approval is a window in which an operator may revoke: whatever
   * is written or queued after one is re-checked against this, so no tunnel or token outlives a
   * revocation that raced it.
   */
  function unrevoked(agentId: string): AgentRecord | undefined {
    const agent = findAgent(db, agentId);
    const key = agent && findAgentKey(db, agent.keyId);
    return agent && key && agent.status !== 'revoked' && key.revokedAt === null ? agent : undefined;
  }

  /**
   * Queues a command above every version the store knows of (issued, or applied by the agent), so
   * that a Redis which lost its counter cannot issue versions the agent ignores as stale; records
   * the version issued.
   */
  async function sendCommand(agentId: string, command: CommandInput): Promise<number> {
    const afterVersion = findAgent(db, agentId)?.commandVersion ?? 0;
    const { version } = await deps.commands.enqueue(agentId, command, { afterVersion });
    raiseCommandVersion(db, agentId, version);
    return version;
  }

  const cloudflaredTurns = createKeyedMutex();
  /**
   * Queues a command carrying the agent's image and settings as the store has them now. One at a
   * time per agent: of two changes in flight, the later read is also the later (higher) version,
   * so the agent never ends on the older choice.
   */
  function sendWithCloudflared(
    agentId: string,
    command: (cloudflared: EffectiveCloudflared) => CommandInput,
  ): Promise<number> {
    return cloudflaredTurns.run(agentId, () =>
      sendCommand(agentId, command(effectiveCloudflared(db, agentId, deps.cloudflaredImage))),
    );
  }

  /** Refusal of a caller revoked while its request was in flight: the same 401 as at the door. */
  const revokedMeanwhile = () => new AuthenticationError('missing, invalid or revoked credentials');

  function allowedHostnames(key: AgentKeyRecord): string[] | null {
    return key.allowAnyHostname ? null : key.hostnameAllowlist;
  }

  /** The request's prefixes, normalized (the schema has checked them with the same function). */
  function labelPrefixesOf(request: RegisterRequest): LabelPrefixes {
    const checked = checkLabelPrefixes(request.labelPrefixes ?? {});
    if (!checked.ok)
      throw new ValidationError('register body', [{ path: 'labelPrefixes', reason: checked.reason }]);
    return checked.value;
  }

  /**
   * Binds the key to an agent: the one already bound, else the cached id if free, else a new one.
   * `prefixesChanged`: the host's labels read differently now, so its routes are derived again.
   */
  function bindAgent(
    key: AgentKeyRecord,
    request: RegisterRequest,
  ): { agent: AgentRecord; created: boolean; prefixesChanged: boolean } {
    const labelPrefixes = labelPrefixesOf(request);
    return db.transaction(() => {
      // The key was checked at the door, but its body was read since: a revocation may have won.
      if (findAgentKey(db, key.id)?.revokedAt !== null) throw revokedMeanwhile();
      const bound = findAgentByKey(db, key.id);
      if (bound) {
        if (request.agentId !== undefined && request.agentId !== bound.id) {
          throw new ForbiddenError(`agentId: this key is bound to agent ${bound.id}, not ${request.agentId}`);
        }
        updateAgentRegistration(db, bound.id, {
          name: request.name,
          hostname: request.hostname,
          agentVersion: request.agentVersion,
          labelPrefixes,
        });
        const prefixesChanged = JSON.stringify(bound.labelPrefixes) !== JSON.stringify(labelPrefixes);
        if (prefixesChanged) {
          recordAudit(db, {
            actor: `agent:${bound.id}`,
            action: 'agent.label_prefixes',
            target: bound.id,
            details: { from: bound.labelPrefixes, to: labelPrefixes },
          });
        }
        return { agent: findAgent(db, bound.id)!, created: false, prefixesChanged };
      }
      let id = `ag_${randomBytes(8).toString('hex')}`;
      if (request.agentId !== undefined) {
        if (findAgent(db, request.agentId)) {
          throw new ForbiddenError(`agentId: ${request.agentId} belongs to another key`);
        }
        // A cached id is adopted (e.g. after the master's database was restored) only in our format.
        if (AGENT_ID.test(request.agentId)) id = request.agentId;
      }
      const agent = insertAgent(db, {
        id,
        keyId: key.id,
        name: request.name,
        hostname: request.hostname,
        agentVersion: request.agentVersion,
        labelPrefixes,
      });
      recordAudit(db, {
        actor: `agent:${id}`,
        action: 'agent.register',
        target: id,
        details: { keyId: key.id, name: request.name, hostname: request.hostname, labelPrefixes },
      });
      return { agent, created: true, prefixesChanged: false };
    })();
  }

  /**
   * Makes sure the approved agent has its tunnel and that `start_tunnel` with a current token is
   * queued, in two Cloudflare calls at most for a new host (create, token) and one for a known one
   * (token). Safe to repeat: a tunnel is made once per name, and the agent applies an identical
   * start_tunnel as a no-op — which also re-arms an agent that lost its data dir. A paused agent
   * gets its tunnel but no start_tunnel: it stays stopped until an operator resumes it.
   */
  async function startAgentTunnel(agent: AgentRecord): Promise<void> {
    const name = agentTunnelName(agent.id);
    const recorded = findAgentTunnel(db, agent.id);
    const paused = () => Boolean(findAgent(db, agent.id)?.pausedAt);
    if (recorded && paused()) return;
    // A tunnel this master recorded needs no look-up: reading its token (which start_tunnel needs
    // anyway) proves it still exists. One deleted by hand is made again below.
    let token = recorded ? await deps.tunnels.recordedTunnelToken(recorded.id) : undefined;
    let tunnelId = recorded?.id;
    if (token === undefined) {
      const tunnel = await deps.tunnels.ensureTunnel(name);
      tunnelId = tunnel.id;
      // Recorded even if a revocation came meanwhile, so that one of the two deletes it at Cloudflare.
      upsertTunnel(db, { id: tunnel.id, name, accountId: tunnel.accountId, agentId: agent.id });
      if (recorded?.id !== tunnel.id) {
        recordAudit(db, {
          actor: 'system',
          action: 'cloudflare.tunnel.ensure',
          target: tunnel.id,
          details: { name, agentId: agent.id },
        });
      }
      if (!unrevoked(agent.id)) return withdrawTunnel(agent.id);
      if (paused()) return;
      token = await deps.tunnels.tunnelToken(tunnel.id);
    }
    if (!unrevoked(agent.id)) return withdrawTunnel(agent.id);
    await sendWithCloudflared(agent.id, (cloudflared) => ({
      type: 'start_tunnel',
      payload: {
        tunnelId: tunnelId!,
        tunnelName: name,
        token,
        cloudflaredImage: cloudflared.image,
        settings: cloudflared.settings,
      },
    }));
    if (!unrevoked(agent.id)) {
      // The revocation purged the queue before this command landed in it.
      await deps.commands.purgeAgent(agent.id);
      return withdrawTunnel(agent.id);
    }
  }

  /** A revocation raced the provisioning: delete what it made, and refuse the caller. */
  async function withdrawTunnel(agentId: string): Promise<never> {
    await deleteAgentTunnel(agentId);
    throw revokedMeanwhile();
  }

  /** Provisioning errors are reported, not thrown: the agent stays approved and a retry repairs it. */
  async function tryStartAgentTunnel(agent: AgentRecord): Promise<string | undefined> {
    try {
      await startAgentTunnel(agent);
      return undefined;
    } catch (error) {
      if (error instanceof AuthenticationError) throw error;
      logger.error({ err: error, agentId: agent.id }, 'could not provision the agent tunnel');
      recordAudit(db, {
        actor: 'system',
        action: 'agent.tunnel_failed',
        target: agent.id,
        details: { message: (error as Error).message },
      });
      return 'approved, but its tunnel could not be provisioned yet; it is retried at the next registration or housekeeping tick';
    }
  }

  /**
   * What a registration's background provisioning does: the tunnel and start_tunnel, the shared
   * connectors, and — for a tunnel made now — the routes the agent reported while it waited.
   */
  async function provisionAndCarry(agent: AgentRecord): Promise<void> {
    const hadTunnel = findAgentTunnel(db, agent.id) !== undefined;
    // A revocation meanwhile was handled by withdrawTunnel: nothing is left to carry.
    const problem = await tryStartAgentTunnel(agent).catch((error: unknown) => {
      if (error instanceof AuthenticationError) return 'revoked meanwhile';
      throw error;
    });
    if (problem !== undefined) return;
    await tryJoinSharedTunnels(agent.id);
    if (hadTunnel) return;
    try {
      await deps.hooks.onAgentApproved(agent.id);
    } catch (error) {
      logger.error({ err: error, agentId: agent.id }, 'onAgentApproved hook failed');
    }
  }

  // One provisioning at a time per agent: an agent that registers again while its tunnel is being
  // made (its calls wait in a budget backlog) joins the one under way instead of paying again.
  const provisioning = new Map<string, Promise<void>>();
  /**
   * Provisions in the background, in the budget's enrolment share: a registration never waits for
   * Cloudflare (a fleet enrolling at once would queue for longer than an agent's request timeout),
   * and the agent gets its tunnel as start_tunnel on the command long-poll.
   */
  function provisionInBackground(agent: AgentRecord): void {
    if (provisioning.has(agent.id)) return;
    const running = provisionAndCarry(agent)
      .catch((error: unknown) =>
        logger.error({ err: error, agentId: agent.id }, 'tunnel provisioning failed'),
      )
      .finally(() => provisioning.delete(agent.id));
    provisioning.set(agent.id, running);
  }

  /**
   * For start-up and the housekeeping tick: provisions again every approved agent whose
   * provisioning did not finish (the master stopped mid-way, or Cloudflare refused), as the agent
   * registers only when it starts. Resolves once those provisionings have settled.
   */
  async function provisionMissingTunnels(): Promise<number> {
    const awaiting = listAgentIdsAwaitingTunnel(db).filter((agentId) => !provisioning.has(agentId));
    for (const agentId of awaiting) {
      const agent = findAgent(db, agentId);
      if (agent) provisionInBackground(agent);
    }
    await Promise.all(awaiting.map((agentId) => provisioning.get(agentId)));
    return awaiting.length;
  }

  async function register(key: AgentKeyRecord, request: RegisterRequest): Promise<RegisterResponse> {
    const { agent, created, prefixesChanged } = bindAgent(key, request);
    if (prefixesChanged) {
      try {
        await deps.hooks.onContainersChanged(agent.id);
      } catch (error) {
        logger.error({ err: error, agentId: agent.id }, 'onContainersChanged hook failed');
      }
    }
    const { cameBack } = await deps.heartbeats.touch(agent.id);
    if (cameBack) deps.alerts.emit('agent.online', { agentId: agent.id, agentName: agent.name });
    let current = unrevoked(agent.id);
    if (!current) throw revokedMeanwhile();
    if (current.status === 'pending' && created && key.autoApprove && approveAgent(db, agent.id)) {
      recordAudit(db, {
        actor: 'system',
        action: 'agent.approve',
        target: agent.id,
        details: { auto: true },
      });
      current = findAgent(db, agent.id)!;
    }
    // An approved agent's tunnel (and the shared connectors, re-armed for an agent that lost its
    // data dir) follow on the command long-poll; a known tunnel costs one call (its token).
    if (current.status === 'approved') provisionInBackground(current);
    const message =
      current.status !== 'approved'
        ? 'waiting for an operator to approve this agent'
        : findAgentTunnel(db, agent.id) === undefined
          ? 'approved; its tunnel is being provisioned and follows as start_tunnel'
          : undefined;
    return {
      agentId: agent.id,
      status: current.status === 'approved' ? 'approved' : 'pending',
      reportIntervalSeconds: deps.reportIntervalSeconds,
      allowedHostnames: allowedHostnames(key),
      serverTime: new Date().toISOString(),
      ...(message ? { message } : {}),
    };
  }

  function requireAgent(agentId: string): AgentRecord {
    const agent = findAgent(db, agentId);
    if (!agent) throw new NotFoundError(`agent ${agentId} not found`);
    return agent;
  }

  async function approve(agentId: string, actor: AuditActor): Promise<AgentRecord> {
    const agent = requireAgent(agentId);
    if (agent.status === 'revoked')
      throw new ConflictError(`agent ${agentId} is revoked and cannot be approved`);
    if (approveAgent(db, agentId)) recordAudit(db, { actor, action: 'agent.approve', target: agentId });
    const problem = await tryStartAgentTunnel(findAgent(db, agentId)!).catch((error: unknown) => {
      // Revoked while its tunnel was being made: the tunnel is gone again, the answer says revoked.
      if (error instanceof AuthenticationError) return 'revoked meanwhile';
      throw error;
    });
    // Routes reported while pending waited for this tunnel: carry them now, not at the next cron.
    if (problem === undefined) {
      await tryJoinSharedTunnels(agentId);
      try {
        await deps.hooks.onAgentApproved(agentId);
      } catch (error) {
        logger.error({ err: error, agentId }, 'onAgentApproved hook failed');
      }
    }
    return findAgent(db, agentId)!;
  }

  function requireApproved(agentId: string, action: string): AgentRecord {
    const agent = requireAgent(agentId);
    if (agent.status !== 'approved') {
      throw new ConflictError(`agent ${agentId} is ${agent.status}: only an approved agent can be ${action}`);
    }
    return agent;
  }

  /**
   * Stops the agent's cloudflared and keeps it stopped (re-registration and agent restarts
   * included) until `resume`. Its routes and their Cloudflare objects are kept: the hostnames stay
   * routed to a tunnel with no connector. Repeating it re-sends `stop_tunnel`.
   */
  async function pause(agentId: string, actor: AuditActor): Promise<AgentRecord> {
    requireApproved(agentId, 'paused');
    if (setAgentPaused(db, agentId, true)) recordAudit(db, { actor, action: 'agent.pause', target: agentId });
    const tunnel = findAgentTunnel(db, agentId);
    if (tunnel) {
      await sendCommand(agentId, {
        type: 'stop_tunnel',
        payload: { tunnelId: tunnel.id, reason: 'paused by operator' },
      });
    }
    return findAgent(db, agentId)!;
  }

  /** Starts the paused agent's cloudflared again, with a current token. */
  async function resume(agentId: string, actor: AuditActor): Promise<AgentRecord> {
    const agent = requireApproved(agentId, 'resumed');
    if (setAgentPaused(db, agentId, false))
      recordAudit(db, { actor, action: 'agent.resume', target: agentId });
    await startAgentTunnel(agent).catch((error: unknown) => {
      // Revoked while resuming: the operator's request is not the one with bad credentials.
      if (error instanceof AuthenticationError)
        throw new ConflictError(`agent ${agentId} was revoked meanwhile`);
      throw error;
    });
    return findAgent(db, agentId)!;
  }

  /**
   * Gives the agent's tunnel a new secret at Cloudflare and sends the new token (`update_tunnel`):
   * the agent replaces cloudflared, and the old token is refused from then on. A paused agent
   * keeps the token for its next start.
   */
  async function rotateSecret(agentId: string, actor: AuditActor): Promise<AgentRecord> {
    requireApproved(agentId, 'given a new tunnel secret');
    const tunnel = findAgentTunnel(db, agentId);
    if (!tunnel) throw new ConflictError(`agent ${agentId} has no tunnel yet`);
    const token = await deps.tunnels.rotateTunnelSecret(tunnel.id);
    recordAudit(db, {
      actor,
      action: 'agent.rotate_secret',
      target: agentId,
      details: { tunnelId: tunnel.id },
    });
    const revokedDuringRotation = () => new ConflictError(`agent ${agentId} was revoked meanwhile`);
    if (!unrevoked(agentId)) throw revokedDuringRotation();
    await sendCommand(agentId, { type: 'update_tunnel', payload: { tunnelId: tunnel.id, token } });
    if (!unrevoked(agentId)) {
      // The revocation purged the queue before this token landed in it: no token outlives it.
      await deps.commands.purgeAgent(agentId);
      throw revokedDuringRotation();
    }
    return findAgent(db, agentId)!;
  }

  /**
   * Who a rollout of the fleet's image would upgrade: approved agents that follow the fleet's image,
   * with a tunnel, running and online; the others are listed with why they sit it out.
   */
  async function rolloutCandidates(): Promise<RolloutCandidate[]> {
    const agents = listAgents(db, { status: 'approved' });
    const seen = await deps.heartbeats.lastSeen(agents.map((agent) => agent.id));
    return agents.map((agent): RolloutCandidate => {
      const skip =
        findCloudflaredConfig(db, agent.id)?.image != null
          ? 'it runs an image of its own (PUT /agents/:id/cloudflared)'
          : agent.pausedAt
            ? 'paused: it gets the fleet image when resumed'
            : !findAgentTunnel(db, agent.id)
              ? 'it has no tunnel yet'
              : !deps.heartbeats.isOnline(seen.get(agent.id))
                ? 'offline: it is sent the fleet image once the rollout succeeds'
                : undefined;
      return { agentId: agent.id, name: agent.name, ...(skip ? { skip } : {}) };
    });
  }

  /**
   * Replaces the fleet's (`agentId` null) or one agent's choice of cloudflared image and settings,
   * and sends `update_tunnel` with the whole effective image and settings to each approved, running
   * agent it applies to. A paused agent gets them with `start_tunnel` at resume; a
   * pending one at approval. The agent recreates cloudflared only if its command line or image
   * changed. A fleet change of image starts a rollout instead: the hosts keep the previous image
   * until their wave (`rollout-driver.ts`); the settings go out at once.
   */
  async function setCloudflared(
    agentId: string | null,
    request: PutCloudflaredRequest,
    actor: AuditActor,
  ): Promise<{
    config: CloudflaredConfig;
    updatedAgents: string[];
    failedAgents: Array<{ agentId: string; error: string }>;
    rolloutId: string | null;
  }> {
    if (agentId !== null && requireAgent(agentId).status === 'revoked')
      throw new ConflictError(`agent ${agentId} is revoked`);
    if (agentId !== null && request.rollout !== undefined) {
      throw new ValidationError('cloudflared body', [
        {
          path: 'rollout',
          reason: "only the fleet's image rolls out; a host's own image is sent to it at once",
        },
      ]);
    }
    const rolloutOptions: RolloutOptions | false =
      request.rollout === false ? false : { ...ROLLOUT_DEFAULTS, ...request.rollout };
    const chosen = { image: request.image ?? null, settings: request.settings ?? {} };
    const fleet = findCloudflaredConfig(db, null);
    const affected = (agentId === null ? listAgents(db) : [findAgent(db, agentId)!]).filter(
      (agent) => agent.status !== 'revoked',
    );
    const changes = affected.map((agent) => ({
      agent,
      after:
        agentId === null
          ? mergeCloudflared(deps.cloudflaredImage, chosen, findCloudflaredConfig(db, agent.id))
          : mergeCloudflared(deps.cloudflaredImage, fleet, chosen),
    }));
    // Each level may be valid alone and not together (post-quantum here, http2 there).
    const refused = changes.filter(({ after }) => !postQuantumNeedsQuic(after.settings));
    if (refused.length > 0) {
      throw new ValidationError('cloudflared settings', [
        {
          path: 'settings.postQuantum',
          reason: `${POST_QUANTUM_NEEDS_QUIC.message}; with the other level's settings it would be so for ${refused.map(({ agent }) => agent.id).join(', ')}`,
        },
      ]);
    }
    const previousImage = fleet?.image ?? deps.cloudflaredImage;
    const image = chosen.image ?? deps.cloudflaredImage;
    const newFleetImage = agentId === null && image !== previousImage;
    const running = findRunningRollout(db);
    if (newFleetImage && running) {
      throw new ConflictError(
        `rollout ${running.id} of ${running.image} is running: wait for it or abort it before choosing another fleet image`,
      );
    }
    const plan =
      newFleetImage && rolloutOptions
        ? planRolloutWaves(await rolloutCandidates(), rolloutOptions)
        : undefined;
    const { config, rolloutId } = db.transaction(() => {
      if (newFleetImage && findRunningRollout(db)) throw new ConflictError('a rollout started meanwhile');
      const saved = saveCloudflaredConfig(db, agentId, chosen);
      recordAudit(db, {
        actor,
        action: 'cloudflared.set',
        target: agentId ?? 'fleet',
        details: { image: chosen.image, settings: chosen.settings },
      });
      if (!plan || !rolloutOptions) return { config: saved, rolloutId: null };
      const rollout = insertRollout(
        db,
        {
          id: `ro_${randomBytes(8).toString('hex')}`,
          image,
          previousImage,
          previousFleetImage: fleet?.image ?? null,
          canarySize: rolloutOptions.canarySize,
          waveSize: rolloutOptions.waveSize,
          waveTimeoutSeconds: rolloutOptions.waveTimeoutSeconds,
        },
        plan,
      );
      recordAudit(db, {
        actor,
        action: 'cloudflared.rollout.start',
        target: rollout.id,
        details: {
          image,
          previousImage,
          canary: plan.filter((host) => host.wave === 0).map((host) => host.agentId),
          waves: plan.filter((host) => host.wave !== null).map((host) => [host.agentId, host.wave]),
          skipped: plan.filter((host) => host.wave === null).map((host) => host.agentId),
        },
      });
      return { config: saved, rolloutId: rollout.id };
    })();
    // Sent even where nothing changed: the agent recreates nothing then, and repeating a `set`
    // repairs a host that missed the last one. One host that cannot be told stops no other.
    const updatedAgents: string[] = [];
    const failedAgents: Array<{ agentId: string; error: string }> = [];
    for (const { agent } of changes) {
      try {
        if (await sendCloudflared(agent.id)) updatedAgents.push(agent.id);
      } catch (error) {
        logger.error({ err: error, agentId: agent.id }, "could not send cloudflared's image and settings");
        failedAgents.push({ agentId: agent.id, error: (error as Error).message });
      }
    }
    if (rolloutId) deps.onRolloutStarted?.();
    return { config, updatedAgents, failedAgents, rolloutId };
  }

  /** An explicit rollout of `image` (the fleet's settings kept), with the operator's waves. */
  async function startRollout(request: StartRolloutRequest & RolloutOptions, actor: AuditActor) {
    const { image, ...options } = request;
    const fleet = findCloudflaredConfig(db, null);
    if ((fleet?.image ?? deps.cloudflaredImage) === image)
      throw new ConflictError(`the fleet's image is already ${image}`);
    const { rolloutId } = await setCloudflared(
      null,
      { image, settings: fleet?.settings ?? {}, rollout: options },
      actor,
    );
    return rolloutId!;
  }

  /** `update_tunnel` with its image and settings to an approved, running agent; false when none is due. */
  async function sendCloudflared(agentId: string): Promise<boolean> {
    const agent = unrevoked(agentId);
    const tunnel = findAgentTunnel(db, agentId);
    if (agent?.status !== 'approved' || agent.pausedAt || !tunnel) return false;
    await sendWithCloudflared(agentId, (cloudflared) => ({
      type: 'update_tunnel',
      payload: { tunnelId: tunnel.id, cloudflaredImage: cloudflared.image, settings: cloudflared.settings },
    }));
    // The revocation purged the queue before this command landed in it.
    if (!unrevoked(agentId)) {
      await deps.commands.purgeAgent(agentId);
      return false;
    }
    // Its shared tunnels' connectors run with the same image and settings.
    await tryJoinSharedTunnels(agentId);
    return true;
  }

  /**
   * Sends the agent a connector for the shared tunnel (`join_shared_tunnel`) with a current token
   * and its host's cloudflared image and settings; false when the agent cannot run one yet (not
   * approved, or revoked), in which case approval sends it.
   */
  async function joinSharedTunnel(
    agentId: string,
    tunnel: { tunnelId: string; name: string },
    token?: string,
  ): Promise<boolean> {
    if (unrevoked(agentId)?.status !== 'approved') return false;
    const current = token ?? (await deps.tunnels.tunnelToken(tunnel.tunnelId));
    await sendWithCloudflared(agentId, (cloudflared) => ({
      type: 'join_shared_tunnel',
      payload: {
        tunnelId: tunnel.tunnelId,
        tunnelName: tunnel.name,
        token: current,
        cloudflaredImage: cloudflared.image,
        settings: cloudflared.settings,
      },
    }));
    if (!unrevoked(agentId)) {
      // The revocation purged the queue before this token landed in it.
      await deps.commands.purgeAgent(agentId);
      return false;
    }
    return true;
  }

  /**
   * Queues the routes of the agent's gateway (built by the gateway routes service); false when the
   * agent may not have any (not approved, or revoked).
   */
  async function sendGatewayRoutes(
    agentId: string,
    routes: SetGatewayRoutesPayload['routes'],
  ): Promise<boolean> {
    if (unrevoked(agentId)?.status !== 'approved') return false;
    await sendCommand(agentId, { type: 'set_gateway_routes', payload: { routes } });
    return true;
  }

  /** Tells the agent to stop and forget the shared tunnel's connector; false when it is revoked. */
  async function leaveSharedTunnel(agentId: string, tunnelId: string, reason: string): Promise<boolean> {
    if (!unrevoked(agentId)) return false;
    await sendCommand(agentId, { type: 'leave_shared_tunnel', payload: { tunnelId, reason } });
    return true;
  }

  /** When a stray connector was last told to leave, per agent and tunnel: one leave per cooldown. */
  const strayLeaves = new Map<string, number>();
  const STRAY_LEAVE_COOLDOWN_MS = 5 * 60_000;

  /**
   * The agent's heartbeat lists the shared tunnels it runs a connector for: one it is not a member
   * of (its leave was lost with Redis, or the tunnel was deleted while it was away) is told to
   * leave, at most once per cooldown. Never throws: a heartbeat is not refused for it.
   */
  async function noteSharedConnectors(agentId: string, tunnelIds: readonly string[]): Promise<void> {
    if (tunnelIds.length === 0) return;
    const memberOf = new Set(listAgentSharedTunnels(db, agentId).map((t) => t.tunnelId.toLowerCase()));
    const now = Date.now();
    for (const tunnelId of tunnelIds) {
      const key = `${agentId}|${tunnelId.toLowerCase()}`;
      if (
        memberOf.has(tunnelId.toLowerCase()) ||
        now - (strayLeaves.get(key) ?? -Infinity) < STRAY_LEAVE_COOLDOWN_MS
      )
        continue;
      strayLeaves.set(key, now);
      try {
        await leaveSharedTunnel(agentId, tunnelId, 'not a member of this shared tunnel');
        logger.info(
          { agentId, tunnelId },
          'told an agent to stop the connector of a shared tunnel it is not a member of',
        );
      } catch (error) {
        logger.error({ err: error, agentId, tunnelId }, 'could not tell an agent to leave a shared tunnel');
      }
    }
  }

  /** Every shared tunnel the agent is a member of; a failure is logged, the next registration repeats it. */
  async function tryJoinSharedTunnels(agentId: string): Promise<void> {
    for (const shared of listAgentSharedTunnels(db, agentId)) {
      try {
        await joinSharedTunnel(agentId, shared);
      } catch (error) {
        logger.error(
          { err: error, agentId, tunnel: shared.name },
          'could not send the shared tunnel connector; retried at the next registration',
        );
      }
    }
  }

  /** Rotates every approved agent's secret (after a suspected leak); one failure stops no other. */
  async function rotateAllSecrets(
    actor: AuditActor,
  ): Promise<Array<{ agentId: string; rotated: boolean; error?: string }>> {
    const results: Array<{ agentId: string; rotated: boolean; error?: string }> = [];
    for (const agent of listAgents(db, { status: 'approved' })) {
      if (!findAgentTunnel(db, agent.id)) continue;
      try {
        await rotateSecret(agent.id, actor);
        results.push({ agentId: agent.id, rotated: true });
      } catch (error) {
        logger.error({ err: error, agentId: agent.id }, 'could not rotate the tunnel secret');
        results.push({ agentId: agent.id, rotated: false, error: (error as Error).message });
      }
    }
    return results;
  }

  /** The agent reported (heartbeat) or acknowledged this command version: never issue one below it. */
  function noteAppliedVersion(agentId: string, version: number): void {
    raiseCommandVersion(db, agentId, version);
  }

  /** A new agent key; the secret is in the answer only, the store keeps its hash. */
  function createKey(
    options: Pick<AgentKeyRecord, 'name' | 'hostnameAllowlist' | 'allowAnyHostname' | 'autoApprove'> & {
      servicePolicy: ServicePolicy;
    },
    actor: AuditActor,
  ): NewAgentKey {
    return db.transaction(() => {
      const issued = issueAgentKey(db, options);
      recordAudit(db, {
        actor,
        action: 'key.create',
        target: issued.record.id,
        details: {
          name: issued.record.name,
          hostnameAllowlist: issued.record.hostnameAllowlist,
          allowAnyHostname: issued.record.allowAnyHostname,
          autoApprove: issued.record.autoApprove,
          servicePolicy: issued.record.servicePolicy,
        },
      });
      return issued;
    })();
  }

  /**
   * Deletes the revoked agent's tunnel so its cloudflared loses the edge. Deleting (rather than
   * rotating the secret) is the definite cut: a rotation leaves the tunnel object alive and
   * connections made with the old secret are not guaranteed to drop, and a revoked agent is never
   * reinstated (a re-enrolled host gets a new key, agent id and tunnel), so nothing would reuse it.
   */
  async function deleteAgentTunnel(agentId: string): Promise<boolean> {
    const tunnel = findAgentTunnel(db, agentId);
    if (!tunnel) return true;
    try {
      await deps.tunnels.deleteTunnel(tunnel.id);
    } catch (error) {
      logger.error({ err: error, agentId, tunnelId: tunnel.id }, 'could not delete the revoked agent tunnel');
      recordAudit(db, {
        actor: 'system',
        action: 'cloudflare.tunnel.delete_failed',
        target: tunnel.id,
        details: { agentId, message: (error as Error).message },
      });
      return false;
    }
    markTunnelDeleted(db, tunnel.id);
    recordAudit(db, {
      actor: 'system',
      action: 'cloudflare.tunnel.delete',
      target: tunnel.id,
      details: { agentId },
    });
    return true;
  }

  /** Ends every way the agent can still act; the order matters: first the door, then the edge. */
  async function cutOff(agentId: string, reason: string): Promise<void> {
    await Promise.resolve(deps.commands.closeAgent(agentId));
    await Promise.resolve(deps.commands.purgeAgent(agentId));
    await deps.heartbeats.forget(agentId);
    const hostnames = markAgentRoutesRevoked(db, agentId, reason);
    recordAudit(db, { actor: 'system', action: 'routes.revoke', target: agentId, details: { hostnames } });
    await deps.retainedRoutes.releaseAgent(agentId);
    await deleteAgentTunnel(agentId);
    try {
      await deps.onSharedMemberRevoked?.(agentId);
    } catch (error) {
      logger.error({ err: error, agentId }, 'could not renew the shared tunnels of a revoked member');
    }
    try {
      await deps.hooks.onAgentRevoked(agentId);
    } catch (error) {
      logger.error({ err: error, agentId }, 'onAgentRevoked hook failed');
    }
  }

  /** Revokes the agent and its key: its very next request is refused (the database says so first). */
  async function revoke(
    agentId: string,
    actor: AuditActor,
    reason = 'revoked by operator',
  ): Promise<AgentRecord> {
    const agent = requireAgent(agentId);
    const changed = db.transaction(() => {
      const revoked = revokeAgent(db, agentId);
      revokeAgentKey(db, agent.keyId);
      if (revoked) recordAudit(db, { actor, action: 'agent.revoke', target: agentId, details: { reason } });
      return revoked;
    })();
    if (changed) {
      deps.alerts.emit('agent.revoked', { agentId, agentName: agent.name, reason });
      await cutOff(agentId, reason);
    }
    return findAgent(db, agentId)!;
  }

  async function revokeKey(keyId: string, actor: AuditActor): Promise<AgentKeyRecord> {
    const key = findAgentKey(db, keyId);
    if (!key) throw new NotFoundError(`key ${keyId} not found`);
    if (revokeAgentKey(db, keyId)) recordAudit(db, { actor, action: 'key.revoke', target: keyId });
    const agent = findAgentByKey(db, keyId);
    if (agent) await revoke(agent.id, actor, `key ${keyId} revoked`);
    return findAgentKey(db, keyId)!;
  }

  async function remove(agentId: string, actor: AuditActor): Promise<void> {
    await revoke(agentId, actor, 'deleted by operator');
    // An agent revoked before revocations released retained routes may still hold some.
    await deps.retainedRoutes.releaseAgent(agentId);
    db.transaction(() => {
      detachAgentTunnels(db, agentId);
      deleteAgentRow(db, agentId);
      recordAudit(db, { actor, action: 'agent.delete', target: agentId });
    })();
  }

  /**
   * For the cron: flags agents silent for three heartbeat intervals as offline (a status only —
   * their routes stay, their cloudflared may still serve) and records when they were last seen.
   */
  async function markOfflineAgents(): Promise<string[]> {
    const newly = await deps.heartbeats.flagOffline();
    const seen = await deps.heartbeats.lastSeen(newly);
    for (const agentId of newly) {
      const at = seen.get(agentId);
      if (at !== undefined) setAgentLastSeen(db, agentId, new Date(at).toISOString());
      recordAudit(db, { actor: 'system', action: 'agent.offline', target: agentId });
      deps.alerts.emit('agent.offline', {
        agentId,
        agentName: findAgent(db, agentId)?.name,
        lastSeenAt: at === undefined ? null : new Date(at).toISOString(),
      });
    }
    return newly;
  }

  /** For the cron: retries tunnel deletions of revoked agents that failed at revocation time. */
  async function finishRevocations(): Promise<number> {
    let retried = 0;
    for (const agent of listAgents(db, { status: 'revoked' })) {
      if (findAgentTunnel(db, agent.id) && (await deleteAgentTunnel(agent.id))) retried++;
    }
    return retried;
  }

  return {
    register,
    approve,
    pause,
    resume,
    rotateSecret,
    rotateAllSecrets,
    setCloudflared,
    startRollout,
    sendCloudflared,
    cloudflaredFor: (agentId: string) => effectiveCloudflared(db, agentId, deps.cloudflaredImage),
    fleetCloudflared: () => ({
      config: findCloudflaredConfig(db, null),
      defaultImage: deps.cloudflaredImage,
    }),
    noteAppliedVersion,
    joinSharedTunnel,
    leaveSharedTunnel,
    sendGatewayRoutes,
    noteSharedConnectors,
    revoke,
    createKey,
    revokeKey,
    remove,
    markOfflineAgents,
    finishRevocations,
    provisionMissingTunnels,
    requireAgent,
  };
}
