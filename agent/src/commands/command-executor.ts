import {
  type Command,
  type CommandAck,
  type CommandResult,
  type Logger,
  PROTOCOL_LIMITS,
  type SharedTunnelsState,
  TunnelfleetError,
  type TunnelState,
} from '@tunnelfleet/common';
import {
  type CloudflaredStatus,
  type CloudflaredSupervisor,
  checkTunnelTokenShape,
  runningFor,
  type SharedConnectors,
} from '../cloudflared/index.js';
import type { GatewaySupervisor } from '../gateway-supervisor/index.js';
import type { TunnelStateCache } from '../state/index.js';

interface CommandExecutorOptions {
  /** Undefined until the agent knows its id (the supervisor labels containers with it). */
  supervisor: () => CloudflaredSupervisor | undefined;
  /** The shared tunnels' connectors; undefined, like `supervisor`, until the agent knows its id. */
  sharedConnectors: () => SharedConnectors | undefined;
  /** The host's L7 gateway; undefined without `GATEWAY_IMAGE` (or before the agent knows its id). */
  gateway?: () => Pick<GatewaySupervisor, 'setRoutes'> | undefined;
  cache: TunnelStateCache;
  logger: Logger;
  /** What `tunnel_state.json` held at start. */
  initialState: TunnelState | undefined;
  /** What `shared_tunnels.json` held at start. */
  initialShared: SharedTunnelsState;
  now?: () => Date;
}

export interface CommandExecutor {
  /** Applies `command` at most once per version and says what happened; never throws. */
  execute(command: Command): Promise<CommandAck>;
  /** Brings cloudflared back as the cache describes it (at start, before the master is reached). */
  restore(): Promise<void>;
  /** The key was rejected: stop serving, and stay stopped across restarts. */
  stopForRevocation(): Promise<void>;
  /** A new agent identity starts a new command sequence: forget versions of the old one. */
  resetIdentity(): Promise<void>;
  lastAppliedVersion(): number | null;
}

class UnknownTunnelError extends TunnelfleetError {
  constructor(tunnelId: string) {
    super('unknown_tunnel', `update_tunnel for tunnel ${tunnelId}, which this agent does not run`);
  }
}

class SupervisorNotReadyError extends TunnelfleetError {
  constructor() {
    super('agent_not_ready', 'the agent has no cloudflared supervisor yet');
  }
}

/**
 * Executes master commands through the cloudflared supervisor. Commands are delivered at least
 * once, so each is idempotent: the tunnel state is persisted first (so a crash between the two
 * steps converges at the next start), then applied; the version guard drops commands overtaken
 * by a newer one, and a redelivery of the last command gets its original acknowledgement again.
 */
export function createCommandExecutor(options: CommandExecutorOptions): CommandExecutor {
  const { cache } = options;
  const logger = options.logger.child({ component: 'commands' });
  const now = options.now ?? (() => new Date());
  let state = options.initialState;
  let shared = options.initialShared;
  // Of every command that left a mark in the cache, the latest.
  const versions = [...(state ? [state.version] : []), ...shared.tunnels.map((t) => t.version)];
  let lastVersion: number | null = versions.length > 0 ? Math.max(...versions) : null;
  let lastAck: CommandAck | undefined;

  const supervisor = () => {
    const current = options.supervisor();
    if (!current) throw new SupervisorNotReadyError();
    return current;
  };

  const persist = async (next: TunnelState) => {
    await cache.writeTunnelState(next);
    state = next;
  };

  const connectors = () => {
    const current = options.sharedConnectors();
    if (!current) throw new SupervisorNotReadyError();
    return current;
  };

  const persistShared = async (next: SharedTunnelsState) => {
    await cache.writeSharedTunnels(next);
    shared = next;
  };

  const sameTunnel = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

  const applyRunning = (tunnel: TunnelState) => supervisor().apply(runningFor(tunnel));

  const outcome = (before: CloudflaredStatus, after: CloudflaredStatus, fresh: CommandResult['action']) => {
    const action: CommandResult['action'] = !before.containerId
      ? fresh
      : before.containerId === after.containerId
        ? 'unchanged'
        : 'replaced';
    return { action, ...(after.containerId ? { containerId: after.containerId } : {}) };
  };

  const apply = async (command: Command): Promise<CommandResult> => {
    const before = supervisor().status();
    const stamp = { version: command.version, updatedAt: now().toISOString() };
    switch (command.type) {
      case 'start_tunnel': {
        const { payload } = command;
        // Before anything is persisted or started: cloudflared would only exit 255 on it.
        checkTunnelTokenShape(payload.token);
        const next: TunnelState = {
          schemaVersion: 1,
          tunnelId: payload.tunnelId,
          tunnelName: payload.tunnelName,
          token: payload.token,
          cloudflaredImage: payload.cloudflaredImage,
          ...(payload.settings ? { settings: payload.settings } : {}),
          desiredState: 'running',
          ...stamp,
        };
        await persist(next);
        return outcome(before, await applyRunning(next), 'started');
      }
      case 'update_tunnel': {
        const { payload } = command;
        if (!state || state.tunnelId.toLowerCase() !== payload.tunnelId.toLowerCase())
          throw new UnknownTunnelError(payload.tunnelId);
        if (payload.token) checkTunnelTokenShape(payload.token);
        const next: TunnelState = {
          ...state,
          ...(payload.token ? { token: payload.token } : {}),
          ...(payload.cloudflaredImage ? { cloudflaredImage: payload.cloudflaredImage } : {}),
          // The master sends the whole effective settings: one it cleared must be gone here too.
          ...(payload.settings ? { settings: payload.settings } : {}),
          ...stamp,
        };
        await persist(next);
        // A stopped tunnel keeps its new token for the next start; nothing runs to restart.
        if (next.desiredState !== 'running') return { action: 'unchanged' };
        // The supervisor replaces the container only when its spec (token, image, arguments) changed.
        return outcome(before, await applyRunning(next), 'started');
      }
      case 'stop_tunnel': {
        if (state) await persist({ ...state, desiredState: 'stopped', ...stamp });
        logger.info(
          { tunnelId: command.payload.tunnelId, reason: command.payload.reason },
          'stopping cloudflared',
        );
        await supervisor().apply({ state: 'stopped', tunnelId: command.payload.tunnelId });
        return { action: before.containerId ? 'stopped' : 'unchanged' };
      }
      case 'join_shared_tunnel': {
        const { payload } = command;
        checkTunnelTokenShape(payload.token);
        const entry = {
          tunnelId: payload.tunnelId,
          tunnelName: payload.tunnelName,
          token: payload.token,
          cloudflaredImage: payload.cloudflaredImage,
          ...(payload.settings ? { settings: payload.settings } : {}),
          ...stamp,
        };
        const others = shared.tunnels.filter((t) => !sameTunnel(t.tunnelId, payload.tunnelId));
        const ran = connectors()
          .statuses()
          .find((c) => sameTunnel(c.tunnelId, payload.tunnelId))?.status;
        await persistShared({ schemaVersion: 1, tunnels: [...others, entry] });
        logger.info(
          { tunnelId: payload.tunnelId, tunnelName: payload.tunnelName },
          'joining a shared tunnel',
        );
        return outcome(
          ran ?? { state: 'stopped', ready: false, restarts: 0 },
          await connectors().join(entry),
          'started',
        );
      }
      case 'leave_shared_tunnel': {
        const { payload } = command;
        await persistShared({
          schemaVersion: 1,
          tunnels: shared.tunnels.filter((t) => !sameTunnel(t.tunnelId, payload.tunnelId)),
        });
        logger.info({ tunnelId: payload.tunnelId, reason: payload.reason }, 'leaving a shared tunnel');
        return { action: (await connectors().leave(payload.tunnelId)) ? 'stopped' : 'unchanged' };
      }
      case 'set_gateway_routes': {
        const gateway = options.gateway?.();
        const { routes } = command.payload;
        if (!gateway) {
          // The master withholds these routes until a heartbeat reports a gateway: nothing to do.
          logger.warn(
            { routes: routes.length },
            'the master sent routes for the gateway, but this agent runs none (set GATEWAY_IMAGE)',
          );
          return { action: 'unchanged' };
        }
        // The supervisor pushes them (with a version above the gateway's) only if they changed.
        await gateway.setRoutes(routes);
        logger.info({ routes: routes.length }, 'gateway routes set');
        return { action: 'unchanged' };
      }
    }
  };

  /** Each cached shared tunnel's connector, and none of any other (a leave cut short by a stop). */
  const restoreShared = async () => {
    const current = options.sharedConnectors();
    if (!current) return;
    await current.removeOthers(shared.tunnels.map((t) => t.tunnelId));
    for (const tunnel of shared.tunnels) {
      try {
        checkTunnelTokenShape(tunnel.token);
        logger.info({ tunnelId: tunnel.tunnelId }, 'restoring a shared tunnel connector from the cache');
        await current.join(tunnel);
      } catch (error) {
        logger.error(
          { err: error, tunnelId: tunnel.tunnelId },
          'cannot restore a shared tunnel connector yet',
        );
      }
    }
  };

  /** Stops every shared connector and forgets their tokens. */
  const dropShared = async () => {
    if (shared.tunnels.length > 0) await persistShared({ schemaVersion: 1, tunnels: [] });
    await options.sharedConnectors()?.removeOthers([]);
  };

  return {
    async execute(command) {
      const base = { commandId: command.id, version: command.version };
      if (lastAck?.commandId === command.id && lastAck.version === command.version) {
        logger.info(
          { commandId: command.id, version: command.version },
          'command redelivered; acknowledging again',
        );
        return lastAck;
      }
      if (lastVersion !== null && command.version <= lastVersion) {
        // Equal: this very command was applied before a restart lost its acknowledgement.
        const ack: CommandAck =
          command.version === lastVersion
            ? { ...base, status: 'ok', result: { action: 'unchanged' } }
            : { ...base, status: 'ignored_stale' };
        logger.info(
          { commandId: command.id, type: command.type, version: command.version, lastApplied: lastVersion },
          ack.status === 'ok' ? 'command already applied' : 'ignoring a stale command',
        );
        return ack;
      }
      let ack: CommandAck;
      try {
        const result = await apply(command);
        ack = { ...base, status: 'ok', result };
        logger.info(
          { commandId: command.id, type: command.type, version: command.version, ...result },
          'command applied',
        );
      } catch (error) {
        ack = { ...base, status: 'error', error: protocolError(error) };
        logger.error({ err: error, commandId: command.id, type: command.type }, 'command failed');
      }
      // Failed ones count too: the master sees the error and sends a newer command to fix it.
      lastVersion = command.version;
      lastAck = ack;
      return ack;
    },

    async restore() {
      await restoreShared();
      if (!state) return;
      if (state.desiredState !== 'running') {
        logger.info({ tunnelId: state.tunnelId }, 'cached tunnel state is stopped; not starting cloudflared');
        return;
      }
      logger.info(
        { tunnelId: state.tunnelId, version: state.version },
        'restoring cloudflared from the cache',
      );
      try {
        checkTunnelTokenShape(state.token);
      } catch (error) {
        // Written by an older agent, or by hand: starting cloudflared on it would only fail.
        logger.error(
          { err: error, tunnelId: state.tunnelId },
          'not restoring cloudflared: the cached token is malformed; waiting for a new one from the master',
        );
        return;
      }
      await applyRunning(state);
    },

    async stopForRevocation() {
      // The master gives a revoked member's shared tunnels new secrets: these tokens are dead.
      await dropShared();
      if (state?.desiredState === 'running')
        await persist({ ...state, desiredState: 'stopped', updatedAt: now().toISOString() });
      await options.supervisor()?.apply({ state: 'stopped', ...(state ? { tunnelId: state.tunnelId } : {}) });
    },

    async resetIdentity() {
      lastVersion = null;
      lastAck = undefined;
      await dropShared();
      if (state)
        await persist({ ...state, desiredState: 'stopped', version: 0, updatedAt: now().toISOString() });
    },

    lastAppliedVersion: () => lastVersion,
  };
}

function protocolError(error: unknown): { code: string; message: string } {
  const code = error instanceof TunnelfleetError ? error.code : 'apply_failed';
  const message = error instanceof Error ? error.message : String(error);
  return { code: code.slice(0, 64), message: message.slice(0, PROTOCOL_LIMITS.messageLength) };
}
