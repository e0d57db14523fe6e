import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type AgentConfig,
  ConfigError,
  checkLabelPrefixes,
  createLogger,
  type DockerInfo,
  LABEL_PREFIX_VARIABLES,
  type LabelPrefixes,
  type Logger,
  type CloudflaredStatus as ProtocolCloudflaredStatus,
} from '@tunnelfleet/common';
import type Docker from 'dockerode';
import {
  type CloudflaredStatus,
  type CloudflaredSupervisor,
  cloudflaredMetricsNetwork,
  createCloudflaredSupervisor,
  createSharedConnectors,
  type SharedConnectors,
} from './cloudflared/index.js';
import { type CommandLoop, createCommandExecutor, startCommandLoop } from './commands/index.js';
import {
  type ContainerWatcher,
  createContainerWatcher,
  createDockerClient,
  createNetworkEnsurer,
} from './docker/index.js';
import {
  createGatewaySupervisor,
  createGatewayTrafficFeed,
  type GatewaySupervisor,
  gatewayHeartbeat,
  loadOrCreateGatewayToken,
} from './gateway-supervisor/index.js';
import {
  DEFAULT_OUTAGE_BUDGET_MS,
  evaluateHealth,
  type HealthReport,
  type HealthServer,
  startHealthServer,
} from './health/index.js';
import { createMasterClient, createMasterLink, type RetryDelayOptions } from './master-client/index.js';
import { createReporter, registerAgent } from './reporter/index.js';
import { createTunnelStateCache, loadSleepingContainers, type SleepingContainers } from './state/index.js';

/** Knobs tests turn down; production uses the defaults. */
interface AgentTuning {
  retry?: RetryDelayOptions;
  snapshotEveryHeartbeats?: number;
  commandWaitSeconds?: number;
  outageBudgetMs?: number;
  /** The revoked-key message is logged at most this often. */
  rejectedLogIntervalMs?: number;
  relistIntervalMs?: number;
  cloudflaredCheckIntervalMs?: number;
}

export interface AgentDeps {
  masterUrl: URL | string;
  apiKey: string;
  agentName: string;
  dataDir: string;
  docker: Docker;
  logger: Logger;
  cloudflaredImage: string;
  cloudflaredNetwork: string;
  /** `GATEWAY_IMAGE`: the agent's own image, run as this host's L7 gateway; unset, no gateway. */
  gatewayImage?: string;
  /** Port of cloudflared's metrics (and `/ready`) inside its container. */
  cloudflaredMetricsPort?: number;
  /** `CLOUDFLARED_OVERLAP_SECONDS`: how long a replaced cloudflared serves beside its successor. */
  cloudflaredOverlapSeconds?: number;
  reportIntervalSeconds: number;
  /** The host's custom DockFlare and Labelgate prefixes (normalized); sent with the registration. */
  labelPrefixes?: LabelPrefixes;
  /** 0 or absent: no health endpoint. */
  healthPort?: number;
  healthHost?: string;
  tuning?: AgentTuning;
  fetch?: typeof fetch;
  /**
   * Clock of the agent's own time arithmetic: health (outage budget, last contact) and the pacing
   * of the revoked-key message. Timers and timestamps sent to the master use the real time.
   */
  now?: () => number;
}

export interface Agent {
  /** Restores cloudflared from the cache, starts watching Docker and serving health, then reaches for the master in the background. */
  start(): Promise<void>;
  /** Stops everything the agent runs except cloudflared, which keeps serving. */
  stop(): Promise<void>;
  health(): HealthReport;
  agentId(): string | undefined;
  /** Port the health endpoint listens on, once started. */
  healthPort(): number | undefined;
}

const DEFAULT_CLOUDFLARED_METRICS_PORT = 20241;
export const REVOKED_KEY_MESSAGE =
  'API key rejected by the master (revoked or unknown): set a new TUNNELFLEET_API_KEY and restart the agent';
const DEFAULT_REJECTED_LOG_INTERVAL_MS = 60_000;
/** At most this long the first heartbeat waits for the gateway's supervisor to look at what runs. */
const GATEWAY_LOOK_WAIT_MS = 10_000;

const AGENT_VERSION = readAgentVersion();

function readAgentVersion(): string {
  try {
    // One level above both src/ and dist/.
    const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Wires the agent from ready-made dependencies; nothing runs until `start`. */
export function createAgent(deps: AgentDeps): Agent {
  const tuning = deps.tuning ?? {};
  const logger = deps.logger;
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const cache = createTunnelStateCache({ dataDir: deps.dataDir, logger });
  const link = createMasterLink(now);
  const client = createMasterClient({
    masterUrl: deps.masterUrl,
    apiKey: deps.apiKey,
    link,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  const abort = new AbortController();
  let supervisor: CloudflaredSupervisor | undefined;
  let gateway: GatewaySupervisor | undefined;
  // cloudflared and the gateway join the same networks: one creator, so they are never made twice.
  const networks = createNetworkEnsurer(deps.docker, logger);
  let watcher: ContainerWatcher | undefined;
  let healthServer: HealthServer | undefined;
  let commandLoop: CommandLoop | undefined;
  let agentId: string | undefined;
  let background: Promise<void> = Promise.resolve();

  let sharedConnectors: SharedConnectors | undefined;
  /** Loaded at start, before the gateway or the watcher need it. */
  let sleeping: SleepingContainers | undefined;
  const makeSupervisor = (id: string, sharedTunnelId?: string) =>
    createCloudflaredSupervisor({
      docker: deps.docker,
      logger,
      agentId: id,
      network: deps.cloudflaredNetwork,
      metricsNetwork: cloudflaredMetricsNetwork(deps.cloudflaredNetwork),
      image: deps.cloudflaredImage,
      networks,
      metricsPort: deps.cloudflaredMetricsPort ?? DEFAULT_CLOUDFLARED_METRICS_PORT,
      ...(deps.cloudflaredOverlapSeconds !== undefined
        ? { overlapMs: deps.cloudflaredOverlapSeconds * 1000 }
        : {}),
      ...(tuning.cloudflaredCheckIntervalMs ? { checkIntervalMs: tuning.cloudflaredCheckIntervalMs } : {}),
      ...(sharedTunnelId ? { sharedTunnelId } : {}),
    });
  const makeSharedConnectors = (id: string) =>
    createSharedConnectors({
      docker: deps.docker,
      logger,
      agentId: id,
      makeSupervisor: (sharedTunnelId) => makeSupervisor(id, sharedTunnelId),
    });

  /**
   * Starts supervising this host's gateway (when an image is configured) in the background: the
   * gateway serves its stored table by itself, so nothing waits for it.
   */
  const superviseGateway = async (id: string) => {
    if (!deps.gatewayImage) return;
    gateway = createGatewaySupervisor({
      docker: deps.docker,
      logger,
      agentId: id,
      image: deps.gatewayImage,
      networks,
      network: deps.cloudflaredNetwork,
      // The internal network the agent already shares with cloudflared's metrics: the gateway's API listens there.
      controlNetwork: cloudflaredMetricsNetwork(deps.cloudflaredNetwork),
      apiToken: await loadOrCreateGatewayToken(deps.dataDir),
      secrets: [deps.apiKey],
      ...(sleeping ? { sleeping } : {}),
    });
    gateway
      .start()
      .catch((error) => logger.error({ err: error }, 'cannot start the gateway yet; the supervisor retries'));
  };

  // What the gateway counts per route, forwarded with the heartbeats as it changes.
  const traffic = createGatewayTrafficFeed({ read: async () => gateway?.metrics(), logger });

  let executor: ReturnType<typeof createCommandExecutor> | undefined;
  const reporter = createReporter({
    client,
    link,
    logger,
    intervalSeconds: deps.reportIntervalSeconds,
    ...(tuning.snapshotEveryHeartbeats ? { snapshotEveryHeartbeats: tuning.snapshotEveryHeartbeats } : {}),
    ...(tuning.retry ? { retry: tuning.retry } : {}),
    containers: () => watcher?.containers() ?? [],
    hostStatus: () => {
      const shared = (sharedConnectors?.statuses() ?? []).map(({ status }) => protocolCloudflared(status));
      const gatewayTraffic = gateway ? traffic.next() : undefined;
      return {
        cloudflared: protocolCloudflared(supervisor?.status()),
        dockerReachable: watcher?.dockerReachable ?? false,
        lastAppliedCommandVersion: executor?.lastAppliedVersion() ?? null,
        // Only when there are some: a master from before shared tunnels refuses the field.
        ...(shared.length > 0 ? { sharedTunnels: shared } : {}),
        ...(gateway && deps.gatewayImage
          ? { gateway: gatewayHeartbeat(gateway.status(), deps.gatewayImage) }
          : {}),
        // Only when some route's numbers changed: a master from before it refuses the field.
        ...(gatewayTraffic ? { gatewayTraffic } : {}),
      };
    },
    heartbeatTaken: (heartbeat) => {
      if (heartbeat.gatewayTraffic) traffic.sent(heartbeat.gatewayTraffic);
    },
  });

  const health = () =>
    evaluateHealth({
      dockerReachable: watcher?.dockerReachable ?? false,
      link: link.state(),
      cloudflared: supervisor?.status(),
      startedAt,
      now: now(),
      outageBudgetMs: tuning.outageBudgetMs ?? DEFAULT_OUTAGE_BUDGET_MS,
    });

  let lastRejectedLogAt = Number.NEGATIVE_INFINITY;
  link.subscribe({
    onRejected(first) {
      const at = now();
      if (at - lastRejectedLogAt >= (tuning.rejectedLogIntervalMs ?? DEFAULT_REJECTED_LOG_INTERVAL_MS)) {
        lastRejectedLogAt = at;
        logger.error(REVOKED_KEY_MESSAGE);
      }
      if (first && executor) {
        // The master deletes a revoked agent's tunnel; stop our side too and keep it stopped.
        executor
          .stopForRevocation()
          .catch((error) => logger.error({ err: error }, 'cannot stop cloudflared'));
      }
    },
    onAccepted: () => logger.info('the master accepts the API key again'),
    onReconnected: () => logger.info('the master is reachable again'),
  });

  const connectToMaster = async () => {
    const registration = await registerAgent({
      client,
      cache,
      logger,
      signal: abort.signal,
      ...(tuning.retry ? { retry: tuning.retry } : {}),
      request: async () => ({
        name: deps.agentName,
        agentVersion: AGENT_VERSION,
        hostname: osHostname(),
        docker: await dockerInfo(deps.docker),
        ...(hasCustomPrefix(deps.labelPrefixes) ? { labelPrefixes: deps.labelPrefixes } : {}),
      }),
    });
    if (!registration || !executor) return;
    if (agentId !== registration.agentId) {
      if (supervisor) {
        // A new identity (new key after a revocation): the old cloudflared belongs to a dead tunnel.
        logger.warn({ previous: agentId, agentId: registration.agentId }, 'agent identity changed');
        await supervisor.stop({ removeContainer: true });
        await gateway?.stop({ removeContainer: true });
        await executor.resetIdentity();
        await sharedConnectors?.stop({ removeContainer: true });
      }
      agentId = registration.agentId;
      supervisor = makeSupervisor(agentId);
      sharedConnectors = makeSharedConnectors(agentId);
      await superviseGateway(agentId);
    }
    // A heartbeat before the gateway's supervisor has looked would say "not ready" of a gateway
    // that serves on (after an agent restart), and the master would withdraw its routes meanwhile.
    if (gateway)
      await Promise.race([gateway.looked(), delay(GATEWAY_LOOK_WAIT_MS, undefined, { ref: false })]);
    reporter.start(agentId);
    commandLoop = startCommandLoop({
      client,
      executor,
      logger,
      ...(tuning.commandWaitSeconds === undefined ? {} : { waitSeconds: tuning.commandWaitSeconds }),
      ...(tuning.retry ? { retry: tuning.retry } : {}),
    });
  };

  return {
    async start() {
      sleeping = await loadSleepingContainers(deps.dataDir, logger);
      agentId = await cache.readAgentId();
      const initialState = await cache.readTunnelState();
      const initialShared = await cache.readSharedTunnels();
      executor = createCommandExecutor({
        supervisor: () => supervisor,
        sharedConnectors: () => sharedConnectors,
        gateway: () => gateway,
        cache,
        logger,
        initialState,
        initialShared,
      });
      if (agentId) {
        supervisor = makeSupervisor(agentId);
        sharedConnectors = makeSharedConnectors(agentId);
        await superviseGateway(agentId);
        // Before the master: a host keeps serving through master outages and its own restarts.
        await executor
          .restore()
          .catch((error) =>
            logger.error({ err: error }, 'cannot restore cloudflared yet; the supervisor retries'),
          );
      }
      watcher = createContainerWatcher({
        docker: deps.docker,
        logger,
        ...(deps.labelPrefixes ? { labelPrefixes: deps.labelPrefixes } : {}),
        ...(tuning.relistIntervalMs ? { relistIntervalMs: tuning.relistIntervalMs } : {}),
        sleeping,
        onChange: (change) => reporter.containerChanged(change),
        onResync: () => reporter.resynced(),
      });
      if (deps.healthPort) {
        healthServer = await startHealthServer({
          port: deps.healthPort,
          ...(deps.healthHost ? { host: deps.healthHost } : {}),
          logger,
          report: health,
        });
      }
      background = connectToMaster().catch((error) =>
        logger.fatal({ err: error }, 'agent failed to connect'),
      );
    },

    async stop() {
      abort.abort();
      await background;
      await commandLoop?.stop();
      await reporter.stop();
      await traffic.settled();
      await watcher?.stop();
      await supervisor?.stop();
      await sharedConnectors?.stop();
      // Like cloudflared, the gateway keeps serving while the agent is away.
      await gateway?.stop();
      await healthServer?.close();
    },

    health,
    agentId: () => agentId,
    healthPort: () => healthServer?.port,
  };
}

/** Starts an agent from its environment configuration. */
export async function startAgent(
  config: AgentConfig,
  options: { logger?: Logger; tuning?: AgentTuning } = {},
): Promise<Agent> {
  const logger =
    options.logger ?? createLogger({ name: 'agent', level: config.logLevel, secrets: [config.apiKey] });
  const labelPrefixes = checkLabelPrefixes({
    dockflare: config.dockflareLabelPrefix,
    labelgate: config.labelgateLabelPrefix,
  });
  if (!labelPrefixes.ok)
    throw new ConfigError([{ variable: LABEL_PREFIX_VARIABLES.labelgate, reason: labelPrefixes.reason }]);
  const agent = createAgent({
    masterUrl: config.masterUrl,
    apiKey: config.apiKey,
    agentName: config.agentName ?? osHostname(),
    dataDir: config.dataDir,
    docker: createDockerClient(config.dockerHost),
    logger,
    cloudflaredImage: config.cloudflaredImage,
    cloudflaredNetwork: config.cloudflaredNetwork,
    cloudflaredOverlapSeconds: config.cloudflaredOverlapSeconds,
    ...(config.gatewayImage ? { gatewayImage: config.gatewayImage } : {}),
    reportIntervalSeconds: config.reportIntervalSeconds,
    labelPrefixes: labelPrefixes.value,
    healthPort: config.healthPort,
    healthHost: config.healthHost,
    ...(options.tuning ? { tuning: options.tuning } : {}),
  });
  await agent.start();
  return agent;
}

function hasCustomPrefix(prefixes: LabelPrefixes | undefined): prefixes is LabelPrefixes {
  return prefixes?.dockflare !== undefined || prefixes?.labelgate !== undefined;
}

/** What the master shows about the engine; null when Docker does not answer (a proxy may refuse /info, so only /version). */
async function dockerInfo(docker: Docker): Promise<DockerInfo | null> {
  try {
    const version = await docker.version();
    return {
      serverVersion: String(version.Version).slice(0, 64),
      apiVersion: String(version.ApiVersion).slice(0, 32),
      os: String(version.Os).slice(0, 128),
      arch: String(version.Arch).slice(0, 64),
    };
  } catch {
    return null;
  }
}

function protocolCloudflared(status: CloudflaredStatus | undefined): ProtocolCloudflaredStatus {
  if (!status) return { state: 'missing', ready: false, tunnelId: null, containerId: null };
  return {
    // Pulling the image: no container exists yet.
    state: status.state === 'pulling' ? 'missing' : status.state,
    ready: status.ready,
    tunnelId: status.tunnelId ?? null,
    containerId: status.containerId ?? null,
    ...(status.problem ? { problem: status.problem } : {}),
    ...(status.image ? { image: status.image } : {}),
    ...(status.version ? { version: status.version } : {}),
    ...(status.connectorId ? { connectorId: status.connectorId } : {}),
    ...(status.configVersion !== undefined ? { configVersion: status.configVersion } : {}),
  };
}
