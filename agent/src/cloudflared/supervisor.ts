import { setTimeout as delay } from 'node:timers/promises';
import {
  type CloudflaredProblem,
  type CloudflaredSettings,
  createKeyedMutex,
  type Logger,
} from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { type BackoffOptions, createBackoff } from '../docker/backoff.js';
import { earlyOutputLines, lastOutputLines } from '../docker/container-output.js';
import { isConflict, isNotFound, isNotModified } from '../docker/docker-errors.js';
import { subscribeDockerEvents } from '../docker/docker-events.js';
import { createNetworkEnsurer, type NetworkEnsurer } from '../docker/network-ensurer.js';
import {
  buildCloudflaredSpec,
  CLOUDFLARED_LABELS,
  type CloudflaredSpec,
  isConnectorOf,
  managedLabelFilter,
} from './container-spec.js';
import { CloudflaredImageUnavailableError, CloudflaredNameTakenError } from './errors.js';
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

/**
 * Runs this agent's single cloudflared container. Every operation goes through one queue, so an
 * `apply`, a restart after a crash and a periodic check never interleave.
 */
export function createCloudflaredSupervisor(options: CloudflaredSupervisorOptions): CloudflaredSupervisor {
  const { docker, agentId } = options;
  const logger = options.logger.child({
    component: 'cloudflared',
    ...(options.sharedTunnelId ? { sharedTunnelId: options.sharedTunnelId } : {}),
  });
  const checkIntervalMs = options.checkIntervalMs ?? DEFAULTS.checkIntervalMs;
  const stableAfterMs = options.stableAfterMs ?? DEFAULTS.stableAfterMs;
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULTS.readyTimeoutMs;
  const overlapMs = options.overlapMs ?? DEFAULTS.overlapMs;
  const backoff = createBackoff(options.restartBackoff ?? DEFAULTS.restartBackoff);

  let desired: CloudflaredDesired | undefined;
  let spec: CloudflaredSpec | undefined;
  let phase: CloudflaredState = 'stopped';
  let ready = false;
  let containerId: string | undefined;
  let startedAt = 0;
  let restarts = 0;
  let lastError: string | undefined;
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
  /** What the last "down; retrying" warning was about: the same cause again is logged at debug. */
  let warnedAbout: string | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** Aborted by `stop`: an overlap in progress stops waiting for the successor. */
  const stopping = new AbortController();
  // One key: every operation on the one container waits for the one before it.
  const mutex = createKeyedMutex();
  const run = <T>(task: () => Promise<T>): Promise<T> => mutex.run('cloudflared', task);

  const status = (): CloudflaredStatus => ({
    state: phase,
    ready,
    ...(containerId ? { containerId } : {}),
    ...(desired?.tunnelId ? { tunnelId: desired.tunnelId } : {}),
    restarts,
    ...(lastError ? { lastError } : {}),
    ...(problem ? { problem } : {}),
    ...(containerId && spec ? { image: spec.createOptions.Image } : {}),
    ...(containerId && identity.containerId === containerId
      ? {
          ...(identity.version ? { version: identity.version } : {}),
          ...(identity.connectorId ? { connectorId: identity.connectorId } : {}),
          ...(identity.configVersion !== undefined ? { configVersion: identity.configVersion } : {}),
        }
      : {}),
  });

  const setReady = (value: boolean) => {
    if (value !== ready)
      logger.info({ containerId, ready: value }, value ? 'cloudflared ready' : 'cloudflared not ready');
    ready = value;
  };

  const { sharedTunnelId } = options;
  const labelFilter = [
    ...managedLabelFilter(agentId),
    ...(sharedTunnelId ? [`${CLOUDFLARED_LABELS.sharedTunnel}=${sharedTunnelId.toLowerCase()}`] : []),
  ];
  const listManaged = async () =>
    (await docker.listContainers({ all: true, filters: { label: labelFilter } })).filter((c) =>
      isConnectorOf(c.Labels, sharedTunnelId),
    );

  const removeContainer = async (id: string) => {
    try {
      // No timeout here: Docker uses the container's own StopTimeout, which follows the grace
      // period cloudflared runs with (container-spec.ts), so in-flight requests can finish.
      await docker.getContainer(id).stop();
    } catch (error) {
      if (!isNotModified(error) && !isNotFound(error)) throw error;
    }
    try {
      await docker.getContainer(id).remove({ force: true });
    } catch (error) {
      // 409: Docker is already removing it.
      if (!isNotFound(error) && !isConflict(error)) throw error;
    }
  };

  const ensureImage = async (image: string) => {
    try {
      await docker.getImage(image).inspect();
      return;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    phase = 'pulling';
    logger.info({ image }, 'pulling cloudflared image');
    try {
      const stream = await docker.pull(image);
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(stream, (error) => (error ? reject(error) : resolve()));
      });
    } catch (error) {
      throw new CloudflaredImageUnavailableError(image, error);
    }
  };

  const networks = options.networks ?? createNetworkEnsurer(docker, logger);
  const ensureNetwork = (network: string, { internal }: { internal: boolean }) =>
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

  /**
   * Keeps one container matching `target`, removing every other managed one; undefined if none
   * fits. One never connected to the metrics network (the agent stopped between creating and
   * connecting it) does not fit: its metrics could not be probed.
   */
  const keepOne = async (
    target: CloudflaredSpec,
    spare?: string,
  ): Promise<Docker.ContainerInfo | undefined> => {
    const managed = (await listManaged()).filter((c) => c.Id !== spare);
    const matching = managed
      .filter(
        (c) =>
          c.Labels[CLOUDFLARED_LABELS.specHash] === target.specHash &&
          c.NetworkSettings?.Networks?.[target.metricsNetwork] !== undefined,
      )
      .sort((a, b) => Number(b.State === 'running') - Number(a.State === 'running') || b.Created - a.Created);
    const keeper = matching[0];
    for (const other of managed) {
      if (other.Id === keeper?.Id) continue;
      logger.info(
        { containerId: other.Id, tokenHash: other.Labels[CLOUDFLARED_LABELS.tokenHash] },
        keeper ? 'removing a duplicate cloudflared container' : 'removing an outdated cloudflared container',
      );
      await removeContainer(other.Id);
    }
    return keeper;
  };

  /**
   * The running cloudflared of another configuration, set aside so that its successor can take its
   * name and its metrics alias: renamed, and off the metrics network (two containers with one
   * alias would each resolve the other's address). It keeps its edge connections — a tunnel takes
   * several connectors — until `retire` stops it.
   */
  const setAside = async (next: CloudflaredSpec): Promise<string | undefined> => {
    if (overlapMs <= 0 || !containerId) return undefined;
    const managed = await listManaged();
    const current = managed.find(
      (c) =>
        c.Id === containerId &&
        c.State === 'running' &&
        c.Labels[CLOUDFLARED_LABELS.specHash] !== next.specHash,
    );
    if (!current) return undefined;
    const asideName = asideNameOf(next);
    // Left aside by a replacement that did not finish (the agent stopped meanwhile).
    for (const stale of managed.filter((c) => c.Id !== current.Id && c.Names.includes(`/${asideName}`)))
      await removeContainer(stale.Id);
    if (!current.Names.includes(`/${asideName}`))
      await docker.getContainer(current.Id).rename({ name: asideName });
    // Already off it when a retry after a failed replacement sets it aside again.
    if (current.NetworkSettings?.Networks?.[next.metricsNetwork] !== undefined) {
      try {
        await docker.getNetwork(next.metricsNetwork).disconnect({ Container: current.Id });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
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
    const aside = (await listManaged()).find(
      (c) => c.State === 'running' && c.Id !== containerId && c.Names.includes(`/${asideNameOf(next)}`),
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
    if (!containerId || !spec) return 'exited';
    const info = await docker.getContainer(containerId).inspect();
    if (!info.State.Running) return 'exited';
    const address = info.NetworkSettings.Networks[spec.metricsNetwork]?.IPAddress;
    return address ? (await probeReady(address, spec.metricsPort, readyTimeoutMs)).ready : false;
  };

  /**
   * Stops the set-aside predecessor once its successor is ready, or after `overlapMs` anyway. A
   * stop of the supervisor ends the wait at once: the predecessor keeps serving unless its
   * successor is ready by then, and the next start retires it (`leftoverAside`).
   */
  const retire = async (previousId: string) => {
    const deadline = Date.now() + overlapMs;
    let outcome: boolean | 'exited' = false;
    while (Date.now() < deadline) {
      outcome = await currentReady().catch(() => false);
      if (outcome !== false) break;
      if (stopping.signal.aborted) {
        logger.info(
          { containerId: previousId, successor: containerId },
          'stopping before the successor is ready: the previous cloudflared keeps serving',
        );
        return;
      }
      await delay(OVERLAP_PROBE_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
    logger.info(
      { containerId: previousId, successor: containerId, successorReady: outcome === true },
      'stopping the previous cloudflared',
    );
    await removeContainer(previousId);
  };

  const converge = async (target: CloudflaredDesired) => {
    if (target.state === 'stopped') {
      cancelRestart();
      for (const container of await listManaged()) await removeContainer(container.Id);
      if (containerId)
        logger.info({ containerId, tunnelId: target.tunnelId }, 'cloudflared stopped and removed');
      containerId = undefined;
      spec = undefined;
      phase = 'stopped';
      setReady(false);
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
    const previous = (await setAside(next)) ?? (await leftoverAside(next));
    spec = next;
    let keeper = await keepOne(next, previous);
    if (!keeper) {
      try {
        const created = await docker.createContainer(next.createOptions);
        // Before start: cloudflared resolves its metrics alias once, when it starts.
        await docker
          .getNetwork(next.metricsNetwork)
          .connect({ Container: created.id, EndpointConfig: { Aliases: [next.metricsAlias] } });
        logger.info(
          { containerId: created.id, tunnelId: target.tunnelId, tokenHash: next.tokenHash, image },
          'cloudflared created',
        );
        await startContainer(created.id);
      } catch (error) {
        if (!isConflict(error)) throw error;
        // Another supervisor (an agent restarting over this one) created it first: adopt it.
        keeper = await keepOne(next);
        if (!keeper) throw new CloudflaredNameTakenError(next.name);
      }
    }
    if (keeper) {
      if (keeper.Id !== containerId)
        logger.info(
          { containerId: keeper.Id, state: keeper.State },
          'adopting existing cloudflared container',
        );
      if (keeper.State !== 'running') await startContainer(keeper.Id);
      else if (keeper.Id !== containerId) {
        containerId = keeper.Id;
        startedAt = Date.now();
      }
    }
    phase = 'running';
    lastError = undefined;
    if (previous) await retire(previous);
  };

  const reconcile = async () => {
    if (!desired) return;
    try {
      await converge(desired);
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
      phase = error instanceof CloudflaredImageUnavailableError || !containerId ? 'missing' : phase;
      setReady(false);
      throw error;
    }
  };

  const cancelRestart = () => {
    if (restartTimer) clearTimeout(restartTimer);
    restartTimer = undefined;
  };

  /** `cause` groups repeats of one failure (a long-offline host) so they do not flood the log. */
  const scheduleRestart = (why: string, cause = why) => {
    if (restartTimer || stopped) return;
    if (startedAt && Date.now() - startedAt >= stableAfterMs) backoff.reset();
    const delayMs = backoff.next();
    // Without a container (image not pullable yet, say) the retry is not a restart of anything.
    phase = containerId ? 'restarting' : 'missing';
    setReady(false);
    const level = cause === warnedAbout ? 'debug' : 'warn';
    warnedAbout = cause;
    logger[level]({ containerId, why, delayMs, attempt: backoff.attempts }, 'cloudflared is down; retrying');
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      void run(async () => {
        if (stopped || desired?.state !== 'running') return;
        if (containerId) restarts += 1;
        try {
          await reconcile();
        } catch (error) {
          logger.error({ err: error }, 'cloudflared restart failed');
          scheduleRestart('restart failed');
        }
      });
    }, delayMs);
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
    cancelRestart();
    phase = 'failed';
    setReady(false);
    logger.error({ containerId, code: why.code, why: why.message }, 'cloudflared refused its configuration');
  };

  /** Compares the container with what is wanted and probes readiness. */
  const check = async () => {
    if (stopped || restartTimer || phase === 'failed' || desired?.state !== 'running') return;
    if (!spec || !containerId) {
      scheduleRestart('not started');
      return;
    }
    let info: Docker.ContainerInspectInfo;
    try {
      info = await docker.getContainer(containerId).inspect();
    } catch (error) {
      if (isNotFound(error)) {
        lastError = 'cloudflared container was removed';
        scheduleRestart('container removed');
      } else logger.warn({ err: error }, 'cannot inspect cloudflared');
      return;
    }
    if (!info.State.Running) {
      const { retry, ...diagnosis } = diagnoseExit(
        info.State.ExitCode,
        await exitOutput(containerId, info.State),
      );
      problem = diagnosis;
      lastError = diagnosis.message;
      if (retry) scheduleRestart(diagnosis.message, diagnosis.code);
      else fail(diagnosis);
      return;
    }
    phase = 'running';
    lastError = undefined;
    if (Date.now() - startedAt >= stableAfterMs) backoff.reset();
    const address = info.NetworkSettings.Networks[spec.metricsNetwork]?.IPAddress;
    const readiness = address
      ? await probeReady(address, spec.metricsPort, readyTimeoutMs)
      : { ready: false };
    setReady(readiness.ready);
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
    if (ready) {
      problem = undefined;
      warnedAbout = undefined;
    }
  };

  const runCheck = () => {
    void run(check).catch((error) => logger.error({ err: error }, 'cloudflared check failed'));
  };

  const events = subscribeDockerEvents({
    docker,
    logger,
    filters: { type: ['container'], label: labelFilter, event: ['start', 'die', 'destroy'] },
    onConnected: ({ first }) => {
      if (!first) runCheck();
    },
    onEvent: runCheck,
  });
  const checkTimer = setInterval(runCheck, checkIntervalMs);
  checkTimer.unref();

  return {
    apply(next) {
      return run(async () => {
        if (stopped) throw new Error('cloudflared supervisor is stopped');
        desired = next;
        problem = undefined;
        cancelRestart();
        await reconcile();
        if (next.state === 'running') await check();
        return status();
      });
    },
    status,
    async stop({ removeContainer: remove = false } = {}) {
      stopped = true;
      stopping.abort();
      clearInterval(checkTimer);
      cancelRestart();
      events.stop();
      await mutex.idle('cloudflared');
      if (remove) {
        for (const container of await listManaged()) await removeContainer(container.Id);
        containerId = undefined;
        phase = 'stopped';
        ready = false;
      }
    },
  };
}
