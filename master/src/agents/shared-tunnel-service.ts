import {
  ConflictError,
  type CreateSharedTunnelRequest,
  createKeyedMutex,
  createSharedTunnelRequestSchema,
  NotFoundError,
  SHARED_TUNNEL_MAX_MEMBERS,
  type SharedTunnelView,
} from '@tunnelfleet/common';
import type { Logger } from 'pino';
import { writeTunnelMemo } from '../reconciler/ingress-intent.js';
import { findAgent } from '../store/agents.js';
import { type AuditActor, recordAudit } from '../store/audit-log.js';
import type { SqliteDatabase } from '../store/database.js';
import { replaceOwnedIngressRules } from '../store/owned-objects.js';
import {
  addSharedTunnelMember,
  deleteSharedTunnelRow,
  findSharedTunnel,
  insertSharedTunnel,
  listAgentSharedTunnels,
  listSharedTunnelMembers,
  listSharedTunnels,
  removeSharedTunnelMember,
  type SharedTunnelRecord,
} from '../store/shared-tunnels.js';
import { isoNow, statement } from '../store/statements.js';
import { findTunnelByName, markTunnelDeleted, upsertTunnel } from '../store/tunnels.js';
import type { AgentService } from './agent-service.js';
import type { HeartbeatStore } from './heartbeats.js';
import type { AgentTunnelProvider, MasterHooks } from './ports.js';

export interface SharedTunnelServiceDeps {
  db: SqliteDatabase;
  tunnels: AgentTunnelProvider;
  agents: Pick<AgentService, 'joinSharedTunnel' | 'leaveSharedTunnel'>;
  hooks: Pick<MasterHooks, 'onContainersChanged'>;
  heartbeats: Pick<HeartbeatStore, 'lastState'>;
  logger: Logger;
}

export type SharedTunnelService = ReturnType<typeof createSharedTunnelService>;

/**
 * Shared tunnels: one Cloudflare tunnel that several member agents each run a connector for, so
 * a hostname on it is served from several hosts. The master creates and deletes the tunnel at
 * Cloudflare, tells members to run or stop its connector, and re-judges the members' routes (a
 * `tunnel` label may name it only from a member). Every change is audited.
 */
export function createSharedTunnelService(deps: SharedTunnelServiceDeps) {
  const { db, logger } = deps;
  // One change at a time: a member added while its tunnel is deleted must not outlive it.
  const turns = createKeyedMutex();
  const oneAtATime = <T>(task: () => Promise<T>) => turns.run('shared-tunnels', task);

  function requireTunnel(name: string): SharedTunnelRecord {
    const tunnel = findSharedTunnel(db, name);
    if (!tunnel) throw new NotFoundError(`shared tunnel ${name} not found`);
    return tunnel;
  }

  function requireMemberAgent(agentId: string) {
    const agent = findAgent(db, agentId);
    if (!agent) throw new NotFoundError(`agent ${agentId} not found`);
    if (agent.status === 'revoked')
      throw new ConflictError(`agent ${agentId} is revoked and cannot run a connector`);
    return agent;
  }

  function routesNaming(name: string): Array<{ agentId: string }> {
    return statement(db, 'SELECT agent_id AS agentId FROM routes WHERE tunnel_name = ?').all(name) as Array<{
      agentId: string;
    }>;
  }

  async function view(tunnel: SharedTunnelRecord): Promise<SharedTunnelView> {
    const members = await Promise.all(
      listSharedTunnelMembers(db, tunnel.name).map(async (member) => {
        const reported = (await deps.heartbeats.lastState(member.agentId))?.sharedTunnels?.find(
          (connector) => connector.tunnelId?.toLowerCase() === tunnel.tunnelId.toLowerCase(),
        );
        return {
          agentId: member.agentId,
          agentName: findAgent(db, member.agentId)?.name ?? member.agentId,
          addedAt: member.addedAt,
          connector: reported
            ? { state: reported.state, ready: reported.ready, connectorId: reported.connectorId ?? null }
            : null,
        };
      }),
    );
    return {
      name: tunnel.name,
      tunnelId: tunnel.tunnelId,
      createdAt: tunnel.createdAt,
      members,
      routes: routesNaming(tunnel.name).length,
    };
  }

  /** Routes naming the tunnel are judged again: valid from a member, `invalid` from anyone else. */
  async function rejudge(agentIds: Iterable<string>): Promise<void> {
    for (const agentId of new Set(agentIds)) {
      try {
        await deps.hooks.onContainersChanged(agentId);
      } catch (error) {
        logger.error(
          { err: error, agentId },
          "could not re-judge the agent's routes; the next reconcile does",
        );
      }
    }
  }

  /** One failure stops no other member: it is logged, and its next registration sends it again. */
  async function tellMembers(
    agentIds: readonly string[],
    tell: (agentId: string) => Promise<boolean>,
  ): Promise<string[]> {
    const told: string[] = [];
    for (const agentId of agentIds) {
      try {
        if (await tell(agentId)) told.push(agentId);
      } catch (error) {
        logger.error({ err: error, agentId }, 'could not send a shared tunnel command to a member');
      }
    }
    return told;
  }

  async function create(input: CreateSharedTunnelRequest, actor: AuditActor): Promise<SharedTunnelView> {
    const request = createSharedTunnelRequestSchema.parse(input);
    return oneAtATime(async () => {
      if (findSharedTunnel(db, request.name) || findTunnelByName(db, request.name))
        throw new ConflictError(`a tunnel named ${request.name} already exists`);
      for (const agentId of request.members) requireMemberAgent(agentId);
      // A tunnel of that name that we hold no record of is someone else's: never adopted (a
      // delete would delete it).
      if (await deps.tunnels.findTunnel(request.name))
        throw new ConflictError(
          `the Cloudflare account already has a tunnel named ${request.name} that Tunnelfleet did not create; choose another name`,
        );
      const created = await deps.tunnels.ensureTunnel(request.name);
      const tunnel: SharedTunnelRecord = { name: request.name, tunnelId: created.id, createdAt: isoNow() };
      db.transaction(() => {
        insertSharedTunnel(db, tunnel);
        upsertTunnel(db, { id: created.id, name: request.name, accountId: created.accountId, agentId: null });
        for (const agentId of request.members)
          addSharedTunnelMember(db, { tunnelName: tunnel.name, agentId, addedAt: tunnel.createdAt });
        recordAudit(db, {
          actor,
          action: 'tunnel.shared.create',
          target: tunnel.name,
          details: { tunnelId: tunnel.tunnelId, members: request.members },
        });
      })();
      if (request.members.length > 0) {
        const token = await deps.tunnels.tunnelToken(tunnel.tunnelId);
        await tellMembers(request.members, (agentId) => deps.agents.joinSharedTunnel(agentId, tunnel, token));
      }
      await rejudge(request.members);
      return view(tunnel);
    });
  }

  async function addMember(name: string, agentId: string, actor: AuditActor): Promise<SharedTunnelView> {
    return oneAtATime(async () => {
      const tunnel = requireTunnel(name);
      requireMemberAgent(agentId);
      const added = db.transaction(() => {
        const members = listSharedTunnelMembers(db, name);
        if (members.some((member) => member.agentId === agentId)) return false;
        // Cloudflare runs at most 25 connectors (replicas) per tunnel: one per member here.
        if (members.length >= SHARED_TUNNEL_MAX_MEMBERS)
          throw new ConflictError(
            `shared tunnel ${name} has ${members.length} members: a tunnel has at most ${SHARED_TUNNEL_MAX_MEMBERS} connectors`,
          );
        addSharedTunnelMember(db, { tunnelName: name, agentId, addedAt: isoNow() });
        recordAudit(db, {
          actor,
          action: 'tunnel.shared.member.add',
          target: name,
          details: { agentId, tunnelId: tunnel.tunnelId },
        });
        return true;
      })();
      // Sent again for a member already there: repeating an add repairs a host that missed it.
      await deps.agents.joinSharedTunnel(agentId, tunnel);
      if (added) await rejudge([agentId]);
      return view(tunnel);
    });
  }

  async function removeMember(name: string, agentId: string, actor: AuditActor): Promise<SharedTunnelView> {
    return oneAtATime(async () => {
      const tunnel = requireTunnel(name);
      if (!removeSharedTunnelMember(db, name, agentId))
        throw new NotFoundError(`agent ${agentId} is not a member of shared tunnel ${name}`);
      recordAudit(db, {
        actor,
        action: 'tunnel.shared.member.remove',
        target: name,
        details: { agentId, tunnelId: tunnel.tunnelId },
      });
      // Its routes on the tunnel first: the rule stays only if another member serves it too.
      await rejudge([agentId]);
      await deps.agents.leaveSharedTunnel(agentId, tunnel.tunnelId, `removed from shared tunnel ${name}`);
      return view(tunnel);
    });
  }

  /**
   * Stops every member's connector, deletes the tunnel at Cloudflare (its ingress rules with it),
   * and makes the routes that named it `invalid`, which withdraws their records and Access apps.
   * If Cloudflare refuses the deletion nothing is forgotten: the operator deletes again.
   */
  async function remove(
    name: string,
    actor: AuditActor,
  ): Promise<{ name: string; tunnelId: string; stoppedMembers: string[]; routes: number }> {
    return oneAtATime(async () => {
      const tunnel = requireTunnel(name);
      const members = listSharedTunnelMembers(db, name).map((member) => member.agentId);
      const stoppedMembers = await tellMembers(members, (agentId) =>
        deps.agents.leaveSharedTunnel(agentId, tunnel.tunnelId, `shared tunnel ${name} deleted`),
      );
      await deps.tunnels.deleteTunnel(tunnel.tunnelId);
      const routes = routesNaming(name);
      db.transaction(() => {
        deleteSharedTunnelRow(db, name);
        markTunnelDeleted(db, tunnel.tunnelId);
        // Cloudflare deleted the rules with the tunnel: none of them is ours any more.
        replaceOwnedIngressRules(db, tunnel.tunnelId, [], isoNow());
        writeTunnelMemo(db, tunnel.tunnelId, { intent: [], foreign: [] });
        recordAudit(db, {
          actor,
          action: 'tunnel.shared.delete',
          target: name,
          details: { tunnelId: tunnel.tunnelId, members, routes: routes.length },
        });
      })();
      await rejudge([...members, ...routes.map((route) => route.agentId)]);
      return { name, tunnelId: tunnel.tunnelId, stoppedMembers, routes: routes.length };
    });
  }

  /**
   * A new secret at Cloudflare (the old token is refused from then on) and the new token to every
   * member, which replaces its connector. Audited; throws when Cloudflare refuses.
   */
  async function renewSecret(tunnel: SharedTunnelRecord, actor: AuditActor, why: Record<string, unknown>) {
    const token = await deps.tunnels.rotateTunnelSecret(tunnel.tunnelId);
    const members = listSharedTunnelMembers(db, tunnel.name).map((member) => member.agentId);
    recordAudit(db, {
      actor,
      action: 'tunnel.shared.rotate_secret',
      target: tunnel.name,
      details: { tunnelId: tunnel.tunnelId, members, ...why },
    });
    await tellMembers(members, (member) => deps.agents.joinSharedTunnel(member, tunnel, token));
  }

  /** After a suspected leak of a member's data directory, or a failed renewal at a revocation. */
  async function rotateSecret(name: string, actor: AuditActor): Promise<SharedTunnelView> {
    return oneAtATime(async () => {
      const tunnel = requireTunnel(name);
      await renewSecret(tunnel, actor, {});
      return view(tunnel);
    });
  }

  /** A revoked member holds the tokens of its shared tunnels: each of them gets a new secret. */
  async function memberRevoked(agentId: string): Promise<void> {
    await oneAtATime(async () => {
      for (const tunnel of listAgentSharedTunnels(db, agentId)) {
        removeSharedTunnelMember(db, tunnel.name, agentId);
        try {
          await renewSecret(tunnel, 'system', { revokedMember: agentId });
        } catch (error) {
          // One tunnel Cloudflare refuses stops no other; the audit entry asks for `tunnels rotate`.
          logger.error({ err: error, tunnel: tunnel.name }, 'could not give a shared tunnel a new secret');
          recordAudit(db, {
            actor: 'system',
            action: 'tunnel.shared.rotate_secret_failed',
            target: tunnel.name,
            details: { tunnelId: tunnel.tunnelId, revokedMember: agentId, message: (error as Error).message },
          });
        }
      }
    });
  }

  return {
    list: () => Promise.all(listSharedTunnels(db).map(view)),
    get: (name: string) => view(requireTunnel(name)),
    create,
    addMember,
    removeMember,
    remove,
    rotateSecret,
    memberRevoked,
  };
}
