import { setTimeout as delay } from 'node:timers/promises';
import type { CloudflaredProblem, CloudflaredSettings, Logger } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import type { BackoffOptions } from '../docker/backoff.js';
import { earlyOutputLines, lastOutputLines } from '../docker/container-output.js';
import { isNotFound } from '../docker/docker-errors.js';
import { createNetworkEnsurer, type NetworkEnsurer } from '../docker/network-ensurer.js';
import { createContainerSupervision, type SupervisedTarget } from '../supervision/container-supervision.js';
import { SupervisorStoppedError } from '../supervision/errors.js';
import {
  buildCloudflaredSpec,
  CLOUDFLARED_LABELS,
  type CloudflaredSpec,
  isConnectorOf,
  managedLabelFilter,
} from './container-spec.js';
import { CloudflaredImageUnavailableError } from './errors.js';
import { diagnoseExit } from './exit-diagnosis.js';
import { probeReady, probeVersion } from './ready-probe.js';

interface CloudflaredRunning {
  state: 'running';
  tunnelId: string;
  tunnelName: string;
  token: string;
  /** Defaults to the supervisor's `image`. */
  image?: string;
  settings?: CloudflaredSettings;
}

/** `stop_tunnel` carries no token: stopping needs none. */
interface CloudflaredStopped {
  state: 'stopped';
  tunnelId?: string;
}

export type CloudflaredDesired = CloudflaredRunning | CloudflaredStopped;

/** What the supervisor runs for a tunnel as the agent caches it (its own, or a shared one). */
export function runningFor(tunnel: {
  tunnelId: string;
  tunnelName: string;
  token: string;
  cloudflaredImage: string;
  settings?: CloudflaredSettings;
}): CloudflaredRunning {
  return {
    state: 'running',
    tunnelId: tunnel.tunnelId,
    tunnelName: tunnel.tunnelName,
    token: tunnel.token,
    image: tunnel.cloudflaredImage,
    ...(tunnel.settings ? { settings: tunnel.settings } : {}),
  };
}

/** `failed`: cloudflared refused its configuration and is not restarted until an `apply` changes it. */
export type CloudflaredState = 'running' | 'stopped' | 'restarting' | 'missing' | 'pulling' | 'failed';

export interface CloudflaredStatus {
  state: CloudflaredState;
  /** The metrics `/ready` endpoint answered 200 at the last check. */
  ready: boolean;
  containerId?: string;
  tunnelId?: string;
  /** Restarts after a crash or an outside kill/removal, since this supervisor was created. */
  restarts: number;
  lastError?: string;
  /** Why cloudflared last exited; kept through restarts until it is ready or an `apply` comes. */
  problem?: CloudflaredProblem;
  /** The image of the container it runs. */
  image?: string;
  /** From its metrics server (ready-probe.ts), once it has answered. */
  version?: string;
  connectorId?: string;
  configVersion?: number;
}

export interface CloudflaredSupervisorOptions {
  docker: Docker;
  logger: Logger;
  agentId: string;
  /** Network cloudflared joins to reach the published containers; created if missing. */
  network: string;
  /**
   * Internal network of cloudflared's metrics (`/ready` is probed there), created if missing. The
   * agent must reach it: an agent in a container is attached to it (docker-compose.agent.yml), one
   * on the host reaches every bridge network.
   */
  metricsNetwork: string;
  /** Image used when `apply` names none. */
  image: string;
  /**
   * Set for a shared tunnel's connector: this supervisor then runs and sees only that tunnel's
   * container, beside the agent's own cloudflared (whose supervisor leaves it alone).
   */
  sharedTunnelId?: string;
  metricsPort: number;
  /** How often the container and its `/ready` endpoint are checked besides Docker events. */
  checkIntervalMs?: number;
  /** Delay between restarts of a crashing cloudflared. */
  restartBackoff?: BackoffOptions;
  /** Up this long, a container's crash counts as the first one again. */
  stableAfterMs?: number;
  readyTimeoutMs?: number;
  /**
   * How long a running cloudflared that is being replaced (new token, image or command line) keeps
   * serving beside its successor, until the successor is ready; 0 stops it first.
   */
  overlapMs?: number;
  /** Shared with the gateway's supervisor, which needs the same networks; one of its own if unset. */
  networks?: NetworkEnsurer;
}

export interface CloudflaredSupervisor {
  /** Converges on `desired`; resolves once the container is started (not necessarily ready) or removed. */
  apply(desired: CloudflaredDesired): Promise<CloudflaredStatus>;
  status(): CloudflaredStatus;
  /** Stops supervising. cloudflared keeps serving unless `removeContainer` is set. */
  stop(options?: { removeContainer?: boolean }): Promise<void>;
}

const DEFAULTS = {
  checkIntervalMs: 5_000,
  restartBackoff: { initialDelayMs: 1_000, maxDelayMs: 30_000 },
  stableAfterMs: 60_000,
  readyTimeoutMs: 2_000,
  overlapMs: 20_000,
};
/** How often a successor's `/ready` is asked while its predecessor still serves. */
const OVERLAP_PROBE_MS = 200;
/** Enough of a dead cloudflared's output for its last words (the edge lookup error is the last). */
const OUTPUT_LINES = 40;
/**
 * A usage error is printed at once, above ~60 (`run`) to ~100 (`tunnel`) lines of help: after an exit 0 the
 * supervisor reads this much of the run's start as well as its end.
 */
const EARLY_OUTPUT_SECONDS = 5;

/** The name a running cloudflared takes while its successor starts beside it. */
const asideNameOf = (spec: CloudflaredSpec) => `${spec.name}-previous`;

const targetOf = (spec: CloudflaredSpec): SupervisedTarget => ({
  name: spec.name,
  specHash: spec.specHash,
  createOptions: spec.createOptions,
  // Before start: cloudflared resolves its metrics alias once, when it starts.
  probeNetwork: spec.metricsNetwork,
  probeAlias: spec.metricsAlias,
});

/**
 * Runs this agent's single cloudflared container on the shared container supervision (one queue,
 * events plus checks, restarts with backoff); what is cloudflared's own is here: pulling its
 * image, the overlap of a replacement, readiness from its metrics, and why it exited.
 */
export function createCloudflaredSupervisor(options: CloudflaredSupervisorOptions): CloudflaredSupervisor {
  const { docker, agentId, sharedTunnelId } = options;
  const logger = options.logger.child({
    component: 'cloudflared',
    ...(sharedTunnelId ? { sharedTunnelId } : {}),
  });
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULTS.readyTimeoutMs;
  const overlapMs = options.overlapMs ?? DEFAULTS.overlapMs;

  let desired: CloudflaredDesired | undefined;
  let spec: CloudflaredSpec | undefined;
  /**
   * The image of the container supervised now. Not `spec`'s: during a replacement `spec` is the
   * successor's before it runs, while the predecessor still serves and is still the ready one, and
   * a heartbeat then would tell a rollout that the new image is ready.
   */
  let runningImage: string | undefined;
  /** Pulling its image: no container to speak of yet. */
  let pulling = false;
  /** Leftover predecessors being retired beside the queue (`retireLeftover`). */
  const retiring = new Set<string>();
  /** cloudflared refused its configuration: no restart until an `apply` changes it. */
  let failed = false;
  let problem: CloudflaredProblem | undefined;
  /** What its metrics server said at the last check; `version` is read once per container. */
  let identity: {
    containerId?: string;
    version?: string;
    /** The version was read while the container was ready: it is kept, not read again. */
    versionSettled?: boolean;
    connectorId?: string;
    configVersion?: number;
  } = {};

  const supervision = createContainerSupervision({
    docker,
    logger,
    what: 'cloudflared',
    labelFilter: [
      ...managedLabelFilter(agentId),
      ...(sharedTunnelId ? [`${CLOUDFLARED_LABELS.sharedTunnel}=${sharedTunnelId.toLowerCase()}`] : []),
    ],
    owns: (labels) => isConnectorOf(labels, sharedTunnelId),
    specHashLabel: CLOUDFLARED_LABELS.specHash,
    checkIntervalMs: options.checkIntervalMs ?? DEFAULTS.checkIntervalMs,
    restartBackoff: options.restartBackoff ?? DEFAULTS.restartBackoff,
    stableAfterMs: options.stableAfterMs ?? DEFAULTS.stableAfterMs,
    wanted: () => desired?.state === 'running' && !failed,
    restart: () => reconcile(),
    exited: async (info, id) => {
      const { retry, ...diagnosis } = diagnoseExit(info.State.ExitCode, await exitOutput(id, info.State));
      problem = diagnosis;
      supervision.lastError = diagnosis.message;
      if (retry) supervision.scheduleRestart(diagnosis.message, diagnosis.code);
      else fail(diagnosis);
    },
    running: (info, id) => probe(info, id),
  });
  const { run } = supervision;

  const status = (): CloudflaredStatus => {
    const { containerId, lastError } = supervision;
    return {
      state: failed ? 'failed' : pulling ? 'pulling' : supervision.phase,
      ready: supervision.ready,
      ...(containerId ? { containerId } : {}),
      ...(desired?.tunnelId ? { tunnelId: desired.tunnelId } : {}),
      restarts: supervision.restarts,
      ...(lastError ? { lastError } : {}),
      ...(problem ? { problem } : {}),
      ...(containerId && runningImage ? { image: runningImage } : {}),
      ...(containerId && identity.containerId === containerId
        ? {
            ...(identity.version ? { version: identity.version } : {}),
            ...(identity.connectorId ? { connectorId: identity.connectorId } : {}),
            ...(identity.configVersion !== undefined ? { configVersion: identity.configVersion } : {}),
          }
        : {}),
    };
  };

  const ensureImage = async (image: string) => {
    try {
      await docker.getImage(image).inspect();
      return;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    pulling = true;
    logger.info({ image }, 'pulling cloudflared image');
    try {
      const stream = await docker.pull(image);
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(stream, (error) => (error ? reject(error) : resolve()));
      });
    } catch (error) {
      throw new CloudflaredImageUnavailableError(image, error);
    } finally {
      pulling = false;
    }
  };

  const networks = options.networks ?? createNetworkEnsurer(docker, logger);
  const ensureNetwork = (network: string, { internal }: { internal: boolean }) =>
    networks.ensure(network, { internal, labels: { [CLOUDFLARED_LABELS.managed]: 'network' } });

  /**
   * The running cloudflared of another configuration, set aside so that its successor can take its
   * name and its metrics alias: renamed, and off the metrics network (two containers with one
   * alias would each resolve the other's address). It keeps its edge connections — a tunnel takes
   * several connectors — until `retire` stops it.
   */
  const setAside = async (next: CloudflaredSpec): Promise<string | undefined> => {
    const { containerId } = supervision;
    if (overlapMs <= 0 || !containerId) return undefined;
    const managed = await supervision.listManaged();
    const current = managed.find(
      (c) =>
        c.Id === containerId &&
        c.State === 'running' &&
        c.Labels[CLOUDFLARED_LABELS.specHash] !== next.specHash,
    );
    if (!current) return undefined;
    await supervision.setAside(current, asideNameOf(next), next.metricsNetwork);
    logger.info(
      { containerId: current.Id },
      'previous cloudflared keeps serving until its successor is ready',
    );
    return current.Id;
  };

  /**
   * A predecessor an earlier agent set aside and did not stop (it stopped during the overlap): it
   * may be the one connector that serves, so it is retired as any predecessor is, once the
   * cloudflared this supervisor runs is ready. Found by this connector's labels and the aside name.
   */
  const leftoverAside = async (next: CloudflaredSpec): Promise<string | undefined> => {
    const aside = (await supervision.listManaged()).find(
      (c) =>
        c.State === 'running' &&
        c.Id !== supervision.containerId &&
        c.Names.includes(`/${asideNameOf(next)}`),
    );
    if (aside)
      logger.info(
        { containerId: aside.Id },
        'a cloudflared left aside by an unfinished replacement serves until its successor is ready',
      );
    return aside?.Id;
  };

  /** Whether the current container answers `/ready`; false once it has stopped. */
  const currentReady = async (): Promise<boolean | 'exited'> => {
    const { containerId } = supervision;
    if (!containerId || !spec) return 'exited';
    const info = await docker.getContainer(containerId).inspect();
    if (!info.State.Running) return 'exited';
    const address = info.NetworkSettings.Networks[spec.metricsNetwork]?.IPAddress;
    return address ? (await probeReady(address, spec.metricsPort, readyTimeoutMs)).ready : false;
  };

  /**
   * Waits until the cloudflared this supervisor runs is ready (or has exited), or `overlapMs` has
   * passed: then its predecessor may stop. A stop of the supervisor ends the wait at once, and the
   * predecessor keeps serving unless the successor is ready by then (false): the next start
   * retires it (`leftoverAside`).
   */
  const successorSettled = async (previousId: string): Promise<boolean> => {
    const deadline = Date.now() + overlapMs;
    let outcome: boolean | 'exited' = false;
    while (Date.now() < deadline) {
      outcome = await currentReady().catch(() => false);
      if (outcome !== false) break;
      if (supervision.stopping.aborted) {
        logger.info(
          { containerId: previousId, successor: supervision.containerId },
          'stopping before the successor is ready: the previous cloudflared keeps serving',
        );
        return false;
      }
      await delay(OVERLAP_PROBE_MS, undefined, { signal: supervision.stopping }).catch(() => undefined);
    }
    logger.info(
      { containerId: previousId, successor: supervision.containerId, successorReady: outcome === true },
      'stopping the previous cloudflared',
    );
    return true;
  };

  /** Stops the set-aside predecessor once its successor is ready, or after `overlapMs` anyway. */
  const retire = async (previousId: string) => {
    if (await successorSettled(previousId)) await supervision.removeContainer(previousId);
  };

  /**
   * `retire` for an earlier agent's leftover, beside the queue: an agent that starts restores
   * cloudflared before it serves health and reaches the master, and must not wait for readiness.
   */
  const retireLeftover = (leftoverId: string) => {
    // A restart or another apply meanwhile finds it again: one wait is enough.
    if (retiring.has(leftoverId)) return;
    retiring.add(leftoverId);
    void (async () => {
      if (!(await successorSettled(leftoverId))) return;
      await run(async () => {
        if (supervision.containerId !== leftoverId) await supervision.removeContainer(leftoverId);
      });
    })()
      .catch((error) =>
        logger.error({ err: error, containerId: leftoverId }, 'cannot stop the previous cloudflared'),
      )
      .finally(() => retiring.delete(leftoverId));
  };

  const converge = async (target: CloudflaredDesired) => {
    if (target.state === 'stopped') {
      supervision.cancelRestart();
      for (const container of await supervision.listManaged())
        await supervision.removeContainer(container.Id);
      if (supervision.containerId)
        logger.info(
          { containerId: supervision.containerId, tunnelId: target.tunnelId },
          'cloudflared stopped and removed',
        );
      spec = undefined;
      runningImage = undefined;
      supervision.markStopped();
      return;
    }
    const image = target.image ?? options.image;
    const next = buildCloudflaredSpec({
      agentId,
      tunnelId: target.tunnelId,
      token: target.token,
      image,
      network: options.network,
      metricsNetwork: options.metricsNetwork,
      metricsPort: options.metricsPort,
      ...(target.settings ? { settings: target.settings } : {}),
      ...(sharedTunnelId ? { sharedTunnelId } : {}),
    });
    await ensureImage(image);
    await ensureNetwork(next.network, { internal: false });
    // Internal: nothing on it reaches out, and only the agent and cloudflared are attached.
    await ensureNetwork(next.metricsNetwork, { internal: true });
    const previous = await setAside(next);
    const leftover = previous ? undefined : await leftoverAside(next);
    spec = next;
    const keeper = await supervision.keepOne(targetOf(next), previous ?? leftover);
    await supervision.launch(targetOf(next), keeper, {
      logFields: { tunnelId: target.tunnelId, tokenHash: next.tokenHash, image },
      spare: previous ?? leftover,
    });
    runningImage = image;
    supervision.setPhase('running');
    supervision.lastError = undefined;
    if (previous) await retire(previous);
    else if (leftover) retireLeftover(leftover);
  };

  const reconcile = async () => {
    if (!desired) return;
    try {
      await converge(desired);
    } catch (error) {
      supervision.lastError = error instanceof Error ? error.message : String(error);
      if (error instanceof CloudflaredImageUnavailableError || !supervision.containerId)
        supervision.setPhase('missing');
      supervision.setReady(false);
      throw error;
    }
  };

  /**
   * cloudflared's last words (e.g. `ERR Unauthorized: … token rejected`), after the start of its
   * run when it exited 0 (where a usage error is), with the token masked.
   */
  const exitOutput = async (id: string, state: Docker.ContainerInspectInfo['State']): Promise<string[]> => {
    try {
      const lines = [
        ...(state.ExitCode === 0
          ? await earlyOutputLines(docker, id, state.StartedAt, EARLY_OUTPUT_SECONDS)
          : []),
        ...(await lastOutputLines(docker, id, OUTPUT_LINES)),
      ];
      const token = desired?.state === 'running' ? desired.token : undefined;
      return token ? lines.map((line) => line.split(token).join('[REDACTED]')) : lines;
    } catch {
      return [];
    }
  };

  /** Restarting cannot help: wait for an `apply` with another configuration. */
  const fail = (why: CloudflaredProblem) => {
    supervision.cancelRestart();
    failed = true;
    supervision.setReady(false);
    logger.error(
      { containerId: supervision.containerId, code: why.code, why: why.message },
      'cloudflared refused its configuration',
    );
  };

  /** Probes a running cloudflared's `/ready`, and what its metrics say about it. */
  const probe = async (info: Docker.ContainerInspectInfo, containerId: string) => {
    if (!spec) return;
    const address = info.NetworkSettings.Networks[spec.metricsNetwork]?.IPAddress;
    const readiness = address
      ? await probeReady(address, spec.metricsPort, readyTimeoutMs)
      : { ready: false };
    supervision.setReady(readiness.ready);
    if (address) {
      // A new container may run another release: its version is read again, until it was read
      // once while the container was ready (an answer from before that may be a predecessor's).
      const version =
        identity.containerId === containerId && identity.version && identity.versionSettled
          ? identity.version
          : await probeVersion(address, spec.metricsPort, readyTimeoutMs);
      identity = {
        containerId,
        ...(version ? { version, versionSettled: readiness.ready } : {}),
        ...(readiness.connectorId ? { connectorId: readiness.connectorId } : {}),
        ...(readiness.configVersion !== undefined ? { configVersion: readiness.configVersion } : {}),
      };
    }
    if (readiness.ready) problem = undefined;
  };

  return {
    apply(next) {
      return run(async () => {
        if (supervision.stopped) throw new SupervisorStoppedError('cloudflared');
        desired = next;
        problem = undefined;
        failed = false;
        supervision.cancelRestart();
        await reconcile();
        if (next.state === 'running') await supervision.check();
        return status();
      });
    },
    status,
    stop: (stopOptions) => supervision.stop(stopOptions),
  };
}
