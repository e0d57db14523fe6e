import { setTimeout as delay } from 'node:timers/promises';
import {
  gatewayServiceUrl,
  type Logger,
  type RouteRefusal,
  type RoutingTableInput,
} from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { CLOUDFLARED_LABELS } from '../cloudflared/container-spec.js';
import type { BackoffOptions } from '../docker/backoff.js';
import { createNetworkEnsurer, type NetworkEnsurer } from '../docker/network-ensurer.js';
import type { SleepingContainers } from '../state/sleeping-containers.js';
import { createContainerSupervision } from '../supervision/container-supervision.js';
import {
  buildGatewaySpec,
  GATEWAY_API_PORT,
  GATEWAY_LABELS,
  type GatewaySpec,
  managedGatewayFilter,
} from './container-spec.js';
import { createContainerWaker } from './container-waker.js';
import { createGatewayClient, type GatewayClient } from './gateway-client.js';
import { startWakeLoop } from './wake-loop.js';
import { startWakeSchedules } from './wake-schedules.js';

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
  /** The routes the gateway refused at the last push (it serves the others), and why. */
  refused: RouteRefusal[];
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
  /**
   * How long a gateway being replaced (new image or token) keeps serving beside its successor while
   * that one starts and takes the table; it is stopped once the successor is ready, or after this.
   */
  overlapMs?: number;
  /** Where the wake loop remembers the containers it stopped for idleness. */
  sleeping?: Pick<SleepingContainers, 'add' | 'delete'>;
  /** Secrets to mask in the log lines shown on the loading page (the agent's API key). */
  secrets?: readonly string[];
}

export interface GatewaySupervisor {
  /** Creates (or adopts) the gateway container; resolves once it is started, ready or not. */
  start(): Promise<GatewayStatus>;
  /** The routes the gateway should serve; pushed now if it runs, else once it does. */
  setRoutes(routes: GatewayRoutes): Promise<GatewayStatus>;
  status(): GatewayStatus;
  /**
   * Resolves once `start` has looked at what runs: a gateway adopted (or created) and probed, or a
   * previous one probed and set aside; also when that failed. Until then `status` says not ready
   * whatever serves: a restarted agent reports nothing before it (the master would withdraw the
   * routes of a gateway that serves on).
   */
  looked(): Promise<void>;
  /** The Prometheus text of the gateway serving now; undefined while none is ready. */
  metrics(): Promise<string | undefined>;
  /** Stops supervising. The gateway keeps serving unless `removeContainer` is set. */
  stop(options?: { removeContainer?: boolean }): Promise<void>;
}

const DEFAULTS = {
  checkIntervalMs: 5_000,
  restartBackoff: { initialDelayMs: 1_000, maxDelayMs: 30_000 },
  stableAfterMs: 60_000,
  probeTimeoutMs: 2_000,
  overlapMs: 30_000,
};
/** How often a successor's readiness is checked during an overlap. */
const OVERLAP_CHECK_MS = 250;

/**
 * Runs this agent's gateway container on the shared container supervision, as cloudflared's
 * supervisor runs cloudflared: one queue of operations, Docker events plus a periodic check,
 * restarts with capped backoff, replacement when the spec changes. An agent that stops leaves the
 * gateway serving its last table; the next agent adopts the container (same spec hash) and pushes
 * its routes with a higher version.
 */
export function createGatewaySupervisor(options: GatewaySupervisorOptions): GatewaySupervisor {
  const { docker, agentId } = options;
  const logger = options.logger.child({ component: 'gateway-supervisor' });
  const probeTimeoutMs = options.probeTimeoutMs ?? DEFAULTS.probeTimeoutMs;
  const spec: GatewaySpec = buildGatewaySpec(options);
  const target = {
    name: spec.name,
    specHash: spec.specHash,
    createOptions: spec.createOptions,
    // Before start: the gateway resolves its control alias once, to bind its API there.
    probeNetwork: spec.controlNetwork,
    probeAlias: spec.controlAlias,
  };

  let wanted = false;
  /**
   * Undefined until `setRoutes`: a restarted agent pushes nothing before it knows the routes, so
   * the gateway keeps serving the table it stored (an empty push would drop every route).
   */
  let routes: GatewayRoutes | undefined;
  /** The routes (as JSON) the current container was last given, and which container that was. */
  let pushed: { containerId: string; routes: string } | undefined;
  let tableVersion: number | undefined;
  /** What the gateway answered to the last push: the routes it left out. */
  let refused: RouteRefusal[] = [];
  /** The API of the gateway while it is ready: the wake loop long-polls it. */
  let live: GatewayClient | undefined;
  /**
   * During a replacement's overlap: the set-aside gateway was ready when it was set aside, so the
   * routes are served (by it) until its successor is; the master keeps them published.
   */
  let previousServing = false;
  let markLooked: () => void = () => undefined;
  const firstLook = new Promise<void>((resolve) => {
    markLooked = resolve;
  });

  const supervision = createContainerSupervision({
    docker,
    logger,
    what: 'gateway',
    labelFilter: managedGatewayFilter(agentId),
    specHashLabel: GATEWAY_LABELS.specHash,
    checkIntervalMs: options.checkIntervalMs ?? DEFAULTS.checkIntervalMs,
    restartBackoff: options.restartBackoff ?? DEFAULTS.restartBackoff,
    stableAfterMs: options.stableAfterMs ?? DEFAULTS.stableAfterMs,
    wanted: () => wanted,
    restart: async () => {
      await converge();
      await supervision.check();
    },
    exited: async (info) => {
      supervision.lastError = `gateway exited with code ${info.State.ExitCode}`;
      supervision.scheduleRestart(supervision.lastError);
    },
    running: (info, containerId) => serve(info, containerId),
    checkFailed: (error) => {
      supervision.lastError = error instanceof Error ? error.message : String(error);
      supervision.setReady(false);
    },
  });
  const { run } = supervision;

  const status = (): GatewayStatus => {
    const { containerId, lastError } = supervision;
    return {
      state: supervision.phase,
      ready: supervision.ready || previousServing,
      ...(containerId ? { containerId } : {}),
      ...(tableVersion !== undefined ? { tableVersion } : {}),
      // Set aside, the previous gateway serves at the same alias before its successor exists.
      ...(containerId || previousServing ? { serviceUrl: gatewayServiceUrl(agentId) } : {}),
      restarts: supervision.restarts,
      ...(lastError ? { lastError } : {}),
      refused,
    };
  };

  const networks = options.networks ?? createNetworkEnsurer(docker, logger);
  // Labelled as cloudflared's networks are: the gateway shares them with cloudflared.
  const ensureNetwork = (network: string, internal: boolean) =>
    networks.ensure(network, { internal, labels: { [CLOUDFLARED_LABELS.managed]: 'network' } });

  const asideName = `${spec.name}-previous`;

  /**
   * The running gateway of another spec (an agent upgraded to a new image, a new token), or one an
   * unfinished replacement left aside: it keeps serving on the shared network, under the alias
   * cloudflared dials, while its successor starts beside it with the same alias (Docker's DNS
   * answers both addresses meanwhile). Off the control network: the successor binds its API to
   * the control alias, which must resolve to it alone.
   */
  const setAsidePrevious = async (): Promise<string | undefined> => {
    const running = (await supervision.listManaged()).filter((c) => c.State === 'running');
    const current =
      running.find(
        (c) => c.Names.includes(`/${spec.name}`) && c.Labels[GATEWAY_LABELS.specHash] !== spec.specHash,
      ) ?? running.find((c) => c.Names.includes(`/${asideName}`));
    if (!current) return undefined;
    // Asked before it goes off the control network, where its API listens.
    const address = current.NetworkSettings?.Networks?.[spec.controlNetwork]?.IPAddress;
    if (address) {
      const client = createGatewayClient({
        origin: `http://${address}:${GATEWAY_API_PORT}`,
        token: options.apiToken,
        timeoutMs: probeTimeoutMs,
      });
      // Serving means a table (a version), not merely an answer: a gateway without one routes nothing.
      const served = await client.readyVersion().catch(() => undefined);
      previousServing = typeof served === 'number';
      // The table served meanwhile is its own: a restarted agent knows no version yet, and the
      // agent reports the gateway ready only with one (the master would withdraw the routes).
      if (typeof served === 'number') tableVersion = served;
    }
    await supervision.setAside(current, asideName, spec.controlNetwork);
    // Readiness from now on is the successor's.
    supervision.setReady(false);
    live = undefined;
    logger.info({ containerId: current.Id }, 'previous gateway keeps serving until its successor is ready');
    return current.Id;
  };

  /**
   * Stops the previous gateway once its successor serves the routes (or after `overlapMs`):
   * gracefully, with its stop timeout, so that it stops accepting and its requests in flight end.
   * A supervisor stopping meanwhile leaves it serving; the next start retires it.
   */
  const retire = async (previousId: string) => {
    let settled: boolean;
    try {
      settled = await successorSettled(previousId);
    } finally {
      previousServing = false;
    }
    if (!settled) return;
    logger.info(
      { containerId: previousId, successor: supervision.containerId },
      'stopping the previous gateway',
    );
    await supervision.removeContainer(previousId);
  };

  /**
   * Waits until the successor serves the routes, or `overlapMs` has passed: then the previous one
   * may stop. False when the supervisor stops first: the previous one serves on.
   */
  const successorSettled = async (previousId: string): Promise<boolean> => {
    const deadline = Date.now() + (options.overlapMs ?? DEFAULTS.overlapMs);
    while (!(supervision.ready && supervision.containerId !== previousId)) {
      if (supervision.stopping.aborted) return false;
      if (Date.now() >= deadline) {
        logger.warn(
          { containerId: previousId },
          'the new gateway is not ready in time; stopping the previous one anyway',
        );
        return true;
      }
      await supervision.check().catch((error: unknown) => {
        supervision.lastError = error instanceof Error ? error.message : String(error);
      });
      if (supervision.ready) return true;
      await delay(OVERLAP_CHECK_MS, undefined, { signal: supervision.stopping }).catch(() => undefined);
    }
    return true;
  };

  const converge = async () => {
    await ensureNetwork(spec.network, false);
    // Internal: the API is reachable from the agent alone, never from the published containers.
    await ensureNetwork(spec.controlNetwork, true);
    const previous = await setAsidePrevious();
    // The previous one serves (or not) until its successor is ready: that much is known now.
    if (previous) markLooked();
    await supervision.launch(target, await supervision.keepOne(target, previous), {
      logFields: { image: options.image },
      spare: previous,
    });
    supervision.setPhase('running');
    supervision.lastError = undefined;
    if (previous) await retire(previous);
  };

  /** Probes `/readyz` of a running gateway, and pushes the routes it does not have yet. */
  const serve = async (info: Docker.ContainerInspectInfo, containerId: string) => {
    const address = info.NetworkSettings.Networks[spec.controlNetwork]?.IPAddress;
    if (!address) {
      supervision.setReady(false);
      return;
    }
    const client = createGatewayClient({
      origin: `http://${address}:${GATEWAY_API_PORT}`,
      token: options.apiToken,
      timeoutMs: probeTimeoutMs,
    });
    const version = await client.readyVersion();
    if (version === undefined) {
      supervision.setReady(false);
      live = undefined;
      return;
    }
    tableVersion = version ?? undefined;
    const wantedRoutes = JSON.stringify(routes);
    if (routes !== undefined && (pushed?.containerId !== containerId || pushed.routes !== wantedRoutes)) {
      // Above whatever it serves: its table outlives agents (on its volume) and this counter does not.
      const next = (version ?? 0) + 1;
      refused = await client.putConfig({ version: next, routes });
      pushed = { containerId, routes: wantedRoutes };
      tableVersion = next;
      logger.info({ version: next, routes: routes.length }, 'routing table pushed to the gateway');
      if (refused.length > 0)
        logger.warn({ version: next, refused: refused.slice(0, 20) }, 'the gateway refused some routes');
    }
    supervision.setReady(true);
    live = client;
  };

  const waker = createContainerWaker({
    docker,
    logger,
    sleeping: options.sleeping,
    dependencies: () =>
      new Map(
        (routes ?? []).flatMap((route) =>
          route.wake ? [[route.wake.container, route.wake.dependsOn ?? []]] : [],
        ),
      ),
  });
  const wakeLoop = startWakeLoop({
    docker,
    logger,
    client: () => (supervision.ready ? live : undefined),
    waker,
    secrets: [options.apiToken, ...(options.secrets ?? [])],
  });
  // Schedules need no gateway: the agent starts and stops the containers itself.
  const schedules = startWakeSchedules({
    logger,
    waker,
    routes: () => routes,
    gateway: () => (supervision.ready ? live : undefined),
  });

  return {
    start() {
      return run(async () => {
        wanted = true;
        supervision.cancelRestart();
        try {
          await converge();
          await supervision.check().catch((error: unknown) => {
            supervision.lastError = error instanceof Error ? error.message : String(error);
          });
        } finally {
          markLooked();
        }
        return status();
      });
    },
    setRoutes(next) {
      routes = next;
      return run(async () => {
        await supervision.check();
        return status();
      });
    },
    status,
    looked: () => firstLook,
    async metrics() {
      return supervision.ready ? live?.metrics() : undefined;
    },
    async stop(stopOptions) {
      wakeLoop.stop();
      schedules.stop();
      await supervision.stop(stopOptions);
    },
  };
}
