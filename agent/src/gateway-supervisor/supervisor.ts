import type { RoutingTableInput } from '@tunnelfleet/common';
import { createKeyedMutex, gatewayServiceUrl, type Logger } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { CLOUDFLARED_LABELS } from '../cloudflared/container-spec.js';
import { type BackoffOptions, createBackoff } from '../docker/backoff.js';
import { isConflict, isNotFound, isNotModified } from '../docker/docker-errors.js';
import { subscribeDockerEvents } from '../docker/docker-events.js';
import { createNetworkEnsurer, type NetworkEnsurer } from '../docker/network-ensurer.js';
import type { SleepingContainers } from '../state/sleeping-containers.js';
import {
  buildGatewaySpec,
  GATEWAY_API_PORT,
  GATEWAY_LABELS,
  type GatewaySpec,
  managedGatewayFilter,
} from './container-spec.js';
import { createGatewayClient, type GatewayClient } from './gateway-client.js';
import { startWakeLoop } from './wake-loop.js';

export type GatewayRoutes = RoutingTableInput['routes'];

export interface GatewayStatus {
  state: 'running' | 'restarting' | 'missing' | 'stopped';
  /** `/readyz` answered 200 and the routes last given are the ones it serves. */
  ready: boolean;
  containerId?: string;
  /** Version of the table it serves, from its `/readyz`. */
  tableVersion?: number;
  /** `http://<alias>:8080` on the shared network: the ingress service of a route through the gateway. */
  serviceUrl?: string;
  restarts: number;
  lastError?: string;
}

export interface GatewaySupervisorOptions {
  docker: Docker;
  logger: Logger;
  agentId: string;
  /** The agent's own image. */
  image: string;
  network: string;
  controlNetwork: string;
  apiToken: string;
  checkIntervalMs?: number;
  restartBackoff?: BackoffOptions;
  /** Up this long, a container's crash counts as the first one again. */
  stableAfterMs?: number;
  probeTimeoutMs?: number;
  /** Shared with cloudflared's supervisor (the same networks); one of its own if unset. */
  networks?: NetworkEnsurer;
  /** Where the wake loop remembers the containers it stopped for idleness. */
  sleeping?: Pick<SleepingContainers, 'add' | 'delete'>;
}

export interface GatewaySupervisor {
  /** Creates (or adopts) the gateway container; resolves once it is started, ready or not. */
  start(): Promise<GatewayStatus>;
  /** The routes the gateway should serve; pushed now if it runs, else once it does. */
  setRoutes(routes: GatewayRoutes): Promise<GatewayStatus>;
  status(): GatewayStatus;
  /** Stops supervising. The gateway keeps serving unless `removeContainer` is set. */
  stop(options?: { removeContainer?: boolean }): Promise<void>;
}

const DEFAULTS = {
  checkIntervalMs: 5_000,
  restartBackoff: { initialDelayMs: 1_000, maxDelayMs: 30_000 },
  stableAfterMs: 60_000,
  probeTimeoutMs: 2_000,
};

/**
 * Runs this agent's gateway container as the cloudflared supervisor runs cloudflared: one queue of
 * operations, Docker events plus a periodic check, restarts with capped backoff, replacement when
 * the spec changes. An agent that stops leaves the gateway serving its last table; the next agent
 * adopts the container (same spec hash) and pushes its routes with a higher version.
 */
export function createGatewaySupervisor(options: GatewaySupervisorOptions): GatewaySupervisor {
  const { docker, agentId } = options;
  const logger = options.logger.child({ component: 'gateway-supervisor' });
  const checkIntervalMs = options.checkIntervalMs ?? DEFAULTS.checkIntervalMs;
  const stableAfterMs = options.stableAfterMs ?? DEFAULTS.stableAfterMs;
  const probeTimeoutMs = options.probeTimeoutMs ?? DEFAULTS.probeTimeoutMs;
  const backoff = createBackoff(options.restartBackoff ?? DEFAULTS.restartBackoff);
  const spec: GatewaySpec = buildGatewaySpec(options);

  let wanted = false;
  /**
   * Undefined until `setRoutes`: a restarted agent pushes nothing before it knows the routes, so
   * the gateway keeps serving the table it stored (an empty push would drop every route).
   */
  let routes: GatewayRoutes | undefined;
  /** The routes (as JSON) the current container was last given, and which container that was. */
  let pushed: { containerId: string; routes: string } | undefined;
  let state: GatewayStatus['state'] = 'stopped';
  let ready = false;
  let containerId: string | undefined;
  let tableVersion: number | undefined;
  let startedAt = 0;
  let restarts = 0;
  let lastError: string | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** The API of the gateway while it is ready: the wake loop long-polls it. */
  let live: GatewayClient | undefined;
  const mutex = createKeyedMutex();
  const run = <T>(task: () => Promise<T>): Promise<T> => mutex.run('gateway', task);

  const status = (): GatewayStatus => ({
    state,
    ready,
    ...(containerId ? { containerId } : {}),
    ...(tableVersion !== undefined ? { tableVersion } : {}),
    ...(containerId ? { serviceUrl: gatewayServiceUrl(agentId) } : {}),
    restarts,
    ...(lastError ? { lastError } : {}),
  });

  const listManaged = () =>
    docker.listContainers({ all: true, filters: { label: managedGatewayFilter(agentId) } });

  const removeContainer = async (id: string) => {
    try {
      await docker.getContainer(id).stop();
    } catch (error) {
      if (!isNotModified(error) && !isNotFound(error)) throw error;
    }
    try {
      await docker.getContainer(id).remove({ force: true });
    } catch (error) {
      if (!isNotFound(error) && !isConflict(error)) throw error;
    }
  };

  const networks = options.networks ?? createNetworkEnsurer(docker, logger);
  // Labelled as cloudflared's networks are: the gateway shares them with cloudflared.
  const ensureNetwork = (network: string, internal: boolean) =>
    networks.ensure(network, { internal, labels: { [CLOUDFLARED_LABELS.managed]: 'network' } });

  const startContainer = async (id: string) => {
    try {
      await docker.getContainer(id).start();
    } catch (error) {
      if (!isNotModified(error)) throw error;
    }
    containerId = id;
    startedAt = Date.now();
  };

  const converge = async () => {
    await ensureNetwork(spec.network, false);
    // Internal: the API is reachable from the agent alone, never from the published containers.
    await ensureNetwork(spec.controlNetwork, true);
    const managed = await listManaged();
    const keeper = managed
      .filter(
        (c) =>
          c.Labels[GATEWAY_LABELS.specHash] === spec.specHash &&
          c.NetworkSettings?.Networks?.[spec.controlNetwork] !== undefined,
      )
      .sort(
        (a, b) => Number(b.State === 'running') - Number(a.State === 'running') || b.Created - a.Created,
      )[0];
    for (const other of managed) {
      if (other.Id === keeper?.Id) continue;
      logger.info({ containerId: other.Id }, 'removing an outdated gateway container');
      await removeContainer(other.Id);
    }
    if (keeper) {
      if (keeper.Id !== containerId)
        logger.info({ containerId: keeper.Id }, 'adopting the gateway container');
      if (keeper.State !== 'running') await startContainer(keeper.Id);
      else if (keeper.Id !== containerId) {
        containerId = keeper.Id;
        startedAt = Date.now();
      }
    } else {
      const created = await docker.createContainer(spec.createOptions);
      // Before start: the gateway resolves its control alias once, to bind its API there.
      await docker
        .getNetwork(spec.controlNetwork)
        .connect({ Container: created.id, EndpointConfig: { Aliases: [spec.controlAlias] } });
      logger.info({ containerId: created.id, image: options.image }, 'gateway created');
      await startContainer(created.id);
    }
    state = 'running';
    lastError = undefined;
  };

  const cancelRestart = () => {
    if (restartTimer) clearTimeout(restartTimer);
    restartTimer = undefined;
  };

  const scheduleRestart = (why: string) => {
    if (restartTimer || stopped) return;
    if (startedAt && Date.now() - startedAt >= stableAfterMs) backoff.reset();
    const delayMs = backoff.next();
    state = containerId ? 'restarting' : 'missing';
    ready = false;
    logger.warn({ containerId, why, delayMs, attempt: backoff.attempts }, 'gateway is down; retrying');
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      void run(async () => {
        if (stopped || !wanted) return;
        if (containerId) restarts += 1;
        try {
          await converge();
          await check();
        } catch (error) {
          lastError = error instanceof Error ? error.message : String(error);
          logger.error({ err: error }, 'gateway restart failed');
          scheduleRestart('restart failed');
        }
      });
    }, delayMs);
  };

  /** Inspects the container, probes `/readyz`, and pushes the routes it does not have yet. */
  const check = async () => {
    if (stopped || restartTimer || !wanted) return;
    if (!containerId) {
      scheduleRestart('not started');
      return;
    }
    let info: Docker.ContainerInspectInfo;
    try {
      info = await docker.getContainer(containerId).inspect();
    } catch (error) {
      if (!isNotFound(error)) throw error;
      lastError = 'gateway container was removed';
      scheduleRestart(lastError);
      return;
    }
    if (!info.State.Running) {
      lastError = `gateway exited with code ${info.State.ExitCode}`;
      scheduleRestart(lastError);
      return;
    }
    state = 'running';
    if (Date.now() - startedAt >= stableAfterMs) backoff.reset();
    const address = info.NetworkSettings.Networks[spec.controlNetwork]?.IPAddress;
    if (!address) {
      ready = false;
      return;
    }
    const client = createGatewayClient({
      origin: `http://${address}:${GATEWAY_API_PORT}`,
      token: options.apiToken,
      timeoutMs: probeTimeoutMs,
    });
    const version = await client.readyVersion();
    if (version === undefined) {
      ready = false;
      live = undefined;
      return;
    }
    tableVersion = version ?? undefined;
    const wantedRoutes = JSON.stringify(routes);
    if (routes !== undefined && (pushed?.containerId !== containerId || pushed.routes !== wantedRoutes)) {
      // Above whatever it serves: its table outlives agents (on its volume) and this counter does not.
      const next = (version ?? 0) + 1;
      await client.putConfig({ version: next, routes });
      pushed = { containerId, routes: wantedRoutes };
      tableVersion = next;
      logger.info({ version: next, routes: routes.length }, 'routing table pushed to the gateway');
    }
    ready = true;
    live = client;
  };

  const runCheck = () => {
    void run(check).catch((error) => {
      lastError = error instanceof Error ? error.message : String(error);
      ready = false;
      logger.error({ err: error }, 'gateway check failed');
    });
  };

  const events = subscribeDockerEvents({
    docker,
    logger,
    filters: {
      type: ['container'],
      label: managedGatewayFilter(agentId),
      event: ['start', 'die', 'destroy'],
    },
    onConnected: ({ first }) => {
      if (!first) runCheck();
    },
    onEvent: runCheck,
  });
  const checkTimer = setInterval(runCheck, checkIntervalMs);
  const wakeLoop = startWakeLoop({
    docker,
    logger,
    client: () => (ready ? live : undefined),
    ...(options.sleeping ? { sleeping: options.sleeping } : {}),
  });
  checkTimer.unref();

  return {
    start() {
      return run(async () => {
        wanted = true;
        cancelRestart();
        await converge();
        await check().catch((error: unknown) => {
          lastError = error instanceof Error ? error.message : String(error);
        });
        return status();
      });
    },
    setRoutes(next) {
      routes = next;
      return run(async () => {
        await check();
        return status();
      });
    },
    status,
    async stop({ removeContainer: remove = false } = {}) {
      stopped = true;
      wakeLoop.stop();
      clearInterval(checkTimer);
      cancelRestart();
      events.stop();
      await mutex.idle('gateway');
      if (remove) {
        for (const container of await listManaged()) await removeContainer(container.Id);
        containerId = undefined;
        state = 'stopped';
        ready = false;
      }
    },
  };
}
