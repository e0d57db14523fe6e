import {
  AGENT_ROUTES,
  AuthenticationError,
  COMMAND_POLL_WAIT_HEADER,
  type Command,
  ConflictError,
  commandAckSchema,
  ForbiddenError,
  heartbeatRequestSchema,
  identifierSchema,
  MAX_AGENT_BODY_BYTES,
  MAX_HEARTBEAT_BODY_BYTES,
  nextCommandQuerySchema,
  parseOrThrow,
  registerRequestSchema,
  reportSchema,
  ValidationError,
} from '@tunnelfleet/common';
import { type RequestHandler, Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AgentService } from '../agents/agent-service.js';
import type { HeartbeatStore } from '../agents/heartbeats.js';
import type { MasterHooks } from '../agents/ports.js';
import { applyReport } from '../agents/report-intake.js';
import type { AlertSink } from '../alerts/alert-sink.js';
import { heartbeatAlerts } from '../alerts/heartbeat-alerts.js';
import type { GatewayRoutesService } from '../gateway/gateway-routes-service.js';
import type { GatewayTrafficBook } from '../gateway/gateway-traffic.js';
import type { AgentRecord } from '../store/agents.js';
import { findAgent } from '../store/agents.js';
import type { SqliteDatabase } from '../store/database.js';
import type { AdmissionControl } from './admission-control.js';
import { agentAuthentication, agentCaller, agentCallerKey } from './authentication.js';
import type { FailedAuthLimiter } from './failed-auth-limiter.js';
import { jsonBody } from './json-body.js';
import type { ReportRateLimiter } from './report-rate-limiter.js';

/** The part of the command gateway (`master/src/commands`) the HTTP API hands agents over to. */
export interface CommandDelivery {
  next(agentId: string, options: { signal: AbortSignal; timeoutMs: number }): Promise<Command | null>;
  /** Must refuse a command id that is not in this agent's queue. */
  acknowledge(agentId: string, commandId: string, ack: z.infer<typeof commandAckSchema>): Promise<unknown>;
}

export interface AgentRouterDeps {
  db: SqliteDatabase;
  limiter: FailedAuthLimiter;
  agents: AgentService;
  heartbeats: HeartbeatStore;
  commands: CommandDelivery;
  hooks: MasterHooks;
  alerts: AlertSink;
  logger: Logger;
  reportIntervalSeconds: number;
  /** Sent with every long-poll's answer (`COMMAND_POLL_WAIT_HEADER`): the wait agents use next. */
  commandPollWaitSeconds: number;
  reportRate: ReportRateLimiter;
  /** Sheds enrolment (registrations, first snapshots) while the master is overloaded. */
  admission: Pick<AdmissionControl, 'admit'>;
  /** What each host's gateway routes (`set_gateway_routes`), and its readiness from heartbeats. */
  gatewayRoutes: Pick<GatewayRoutesService, 'noteHeartbeat' | 'refresh'>;
  /** What each host's gateway counted per route (heartbeat `gatewayTraffic`). */
  gatewayTraffic: Pick<GatewayTrafficBook, 'note'>;
}

const ackParamsSchema = z.strictObject({ id: identifierSchema });

/** Routes under `/api/v1/agent`, as listed in `common/src/protocol/routes.ts`. */
export function agentRouter(deps: AgentRouterDeps): Router {
  const { db } = deps;
  const router = Router();
  const authenticate = agentAuthentication(db, deps.limiter);

  /** The registered agent behind the key; 409 before the first registration. */
  function registeredAgent(agent: AgentRecord | undefined): AgentRecord {
    if (!agent) throw new ConflictError('this key has no agent yet: register first');
    return agent;
  }

  function assertOwnId(agent: AgentRecord, claimed: string): void {
    if (claimed !== agent.id) throw new ForbiddenError(`agentId: ${claimed} is not the agent of this key`);
  }

  // Admission first: a refused registration costs no key check and no body parse.
  router.post(AGENT_ROUTES.register, deps.admission.admit, authenticate, jsonBody(), async (req, res) => {
    const body = parseOrThrow(registerRequestSchema, req.body, 'register body');
    const answer = await deps.agents.register(agentCallerKey(db, res), body);
    // A (re)started agent pushes nothing to its gateway until told its routes: tell it now.
    if (answer.status === 'approved') await deps.gatewayRoutes.refresh(answer.agentId, { force: true });
    res.json(answer);
  });

  router.post(AGENT_ROUTES.heartbeat, authenticate, jsonBody(MAX_HEARTBEAT_BODY_BYTES), async (req, res) => {
    const agent = registeredAgent(agentCaller(res).agent);
    const body = parseOrThrow(heartbeatRequestSchema, req.body, 'heartbeat body');
    assertOwnId(agent, body.agentId);
    // The traffic is not presence: it stays out of the state kept in Redis for every heartbeat.
    const { gatewayTraffic, ...presence } = body;
    const { cameBack, previous } = await deps.heartbeats.record(agent.id, presence);
    // The store only raises it: no statement when the agent's row, read for this request, is not behind.
    if (body.lastAppliedCommandVersion !== null && body.lastAppliedCommandVersion > agent.commandVersion)
      deps.agents.noteAppliedVersion(agent.id, body.lastAppliedCommandVersion);
    if (agent.status === 'approved') await deps.gatewayRoutes.noteHeartbeat(agent.id, body.gateway);
    if (agent.status === 'approved' && gatewayTraffic) deps.gatewayTraffic.note(agent.id, gatewayTraffic);
    if (agent.status === 'approved')
      await deps.agents.noteSharedConnectors(
        agent.id,
        (body.sharedTunnels ?? []).flatMap((connector) => (connector.tunnelId ? [connector.tunnelId] : [])),
      );
    for (const alert of heartbeatAlerts(previous, body, cameBack)) {
      // A paused host's cloudflared is down on purpose: that is no alert.
      if (agent.pausedAt !== null && alert.type.startsWith('cloudflared.')) continue;
      deps.alerts.emit(alert.type, { agentId: agent.id, agentName: agent.name, ...alert.data });
    }
    res.json({
      status: agent.status === 'approved' ? 'approved' : 'pending',
      reportIntervalSeconds: deps.reportIntervalSeconds,
      // Nothing reported yet (new agent, or a master restored without its rows): ask for a snapshot.
      // Not after mere events: the agent's periodic snapshots resync those without a storm.
      snapshotRequested: agent.reportSequence === 0,
    });
  });

  /** Before the body is read: a refused report costs the master no parse. */
  const reportRateLimit: RequestHandler = (req, res, next) => {
    // Without a Content-Length (chunked), count the largest body that can pass.
    const declared = Number(req.get('content-length'));
    const bodyBytes = Number.isSafeInteger(declared) && declared >= 0 ? declared : MAX_AGENT_BODY_BYTES;
    const refused = deps.reportRate.take(registeredAgent(agentCaller(res).agent).id, bodyBytes);
    if (refused) throw refused;
    next();
  };

  /**
   * A new host's first snapshot plans all its containers at once: part of enrolment, so it waits
   * too while the master is overloaded. Enrolled hosts' reports are never refused here.
   */
  const firstSnapshotAdmission: RequestHandler = (req, res, next) => {
    if (registeredAgent(agentCaller(res).agent).reportSequence === 0) deps.admission.admit(req, res, next);
    else next();
  };

  router.post(
    AGENT_ROUTES.reports,
    authenticate,
    firstSnapshotAdmission,
    reportRateLimit,
    jsonBody(MAX_AGENT_BODY_BYTES),
    async (req, res) => {
      const agent = registeredAgent(agentCaller(res).agent);
      const report = parseOrThrow(reportSchema, req.body, 'report body');
      res.json(await applyReport(deps, agent, report));
    },
  );

  router.get(AGENT_ROUTES.commandsNext, authenticate, async (req, res) => {
    const agent = registeredAgent(agentCaller(res).agent);
    const { waitSeconds } = parseOrThrow(nextCommandQuerySchema, { ...req.query }, 'query');
    const closed = new AbortController();
    const onClose = () => closed.abort();
    res.once('close', onClose);
    // A pending agent's queue stays empty until approval queues start_tunnel, which then wakes this
    // poll. Revocation and deletion end it at the gateway (`closeAgent`), with `null`.
    const command = await deps.commands.next(agent.id, {
      signal: closed.signal,
      timeoutMs: waitSeconds * 1000,
    });
    // The wait is over: an abort now would only build an AbortError (a DOMException with its
    // stack) for every poll, 400 a second at 10,000 hosts, that nothing reads.
    res.off('close', onClose);
    // Revoked or deleted while waiting: the answer to this very request is already a refusal.
    const current = findAgent(db, agent.id);
    if (current === undefined || current.status === 'revoked') {
      throw new AuthenticationError('missing, invalid or revoked credentials');
    }
    res.set(COMMAND_POLL_WAIT_HEADER, String(deps.commandPollWaitSeconds));
    res.json({ command });
  });

  router.post(AGENT_ROUTES.commandAck, authenticate, jsonBody(), async (req, res) => {
    const agent = registeredAgent(agentCaller(res).agent);
    const { id } = parseOrThrow(ackParamsSchema, { ...req.params }, 'path');
    const ack = parseOrThrow(commandAckSchema, req.body, 'acknowledgement body');
    if (ack.commandId !== id) {
      throw new ValidationError('acknowledgement body', [
        { path: 'commandId', reason: `must equal the command id of the path (${id})` },
      ]);
    }
    await deps.commands.acknowledge(agent.id, id, ack);
    deps.agents.noteAppliedVersion(agent.id, ack.version);
    deps.logger.info({ agentId: agent.id, commandId: id, status: ack.status }, 'command acknowledged');
    res.json({ ok: true });
  });

  return router;
}
