import { ConflictError, createKeyedMutex, NotFoundError, type RolloutView } from '@tunnelfleet/common';
import type { Logger } from 'pino';
import type { AlertSink } from '../alerts/alert-sink.js';
import { type AuditActor, recordAudit } from '../store/audit-log.js';
import { findCloudflaredConfig, saveCloudflaredConfig } from '../store/cloudflared-configs.js';
import {
  findRollout,
  findRunningRollout,
  finishRollout,
  listRolloutHosts,
  listRollouts,
  listRolloutsRollingBack,
  type RolloutHostRecord,
  type RolloutRecord,
  setRolloutHostState,
} from '../store/cloudflared-rollouts.js';
import type { SqliteDatabase } from '../store/database.js';
import { findAgentTunnel } from '../store/tunnels.js';
import type { HeartbeatStore } from './heartbeats.js';

export interface RolloutDriverDeps {
  db: SqliteDatabase;
  heartbeats: Pick<HeartbeatStore, 'lastState'>;
  /** The connector ids of the tunnel's connections at Cloudflare (the tunnel connections API). */
  connectedConnectors(tunnelId: string): Promise<string[]>;
  /** Sends the agent its effective image and settings (`update_tunnel`); false when none is due. */
  sendCloudflared(agentId: string): Promise<boolean>;
  alerts: AlertSink;
  logger: Logger;
  /** How often a running rollout is looked at (`ROLLOUT_CHECK_INTERVAL_MS`). */
  intervalMs: number;
  now?: () => number;
}

type Verdict = { ready: true; detail: string } | { ready: false; failed: boolean; detail: string };

export type RolloutDriver = ReturnType<typeof createRolloutDriver>;

/**
 * Takes a running rollout (`cloudflared_rollouts`) wave by wave: sends a wave its new image, waits
 * until each of its hosts reports cloudflared ready on that image and its connector is connected at
 * Cloudflare, then goes on; a host that is not within the wave's timeout (or whose cloudflared
 * refuses to run) halts the rollout and every host it reached goes back to the previous image.
 * Everything it decides is in SQLite first, so a restarted master takes up where it was: the wave's
 * deadline included, and rollbacks whose command could not be queued yet.
 */
export function createRolloutDriver(deps: RolloutDriverDeps) {
  const { db, logger } = deps;
  const now = deps.now ?? Date.now;
  // The ticks and an operator's abort take turns: each reads and decides on what the other wrote.
  const turns = createKeyedMutex();
  let timer: NodeJS.Timeout | undefined;

  async function verdict(rollout: RolloutRecord, host: RolloutHostRecord): Promise<Verdict> {
    const waiting = (detail: string): Verdict => ({ ready: false, failed: false, detail });
    const tunnel = findAgentTunnel(db, host.agentId);
    if (!tunnel) return { ready: false, failed: true, detail: 'its tunnel is gone' };
    const state = await deps.heartbeats.lastState(host.agentId);
    if (!state || !host.waveStartedAt || state.receivedAt < host.waveStartedAt)
      return waiting('no heartbeat since it was sent the image');
    const cloudflared = state.cloudflared;
    if (cloudflared.image !== rollout.image) return waiting(`still runs ${cloudflared.image ?? 'nothing'}`);
    if (cloudflared.state === 'failed') {
      return {
        ready: false,
        failed: true,
        detail: `cloudflared refused to run: ${cloudflared.problem?.message ?? 'failed'}`,
      };
    }
    if (!cloudflared.ready || !cloudflared.connectorId)
      return waiting(`cloudflared is ${cloudflared.state} and not ready`);
    const connectors = await deps.connectedConnectors(tunnel.id);
    if (!connectors.includes(cloudflared.connectorId))
      return waiting(`connector ${cloudflared.connectorId} is not connected at Cloudflare`);
    return { ready: true, detail: `ready and connected as connector ${cloudflared.connectorId}` };
  }

  function setState(
    rollout: RolloutRecord,
    host: RolloutHostRecord,
    state: RolloutHostRecord['state'],
    detail: string,
  ) {
    if (host.state !== state || host.detail !== detail)
      setRolloutHostState(db, rollout.id, host.agentId, state, detail);
  }

  /** Sends the previous image to the hosts that still wait for it; those the queue refused wait on. */
  async function sendRollbacks(rollout: RolloutRecord): Promise<void> {
    for (const host of listRolloutHosts(db, rollout.id).filter((h) => h.state === 'rolling_back')) {
      try {
        await deps.sendCloudflared(host.agentId);
        setRolloutHostState(db, rollout.id, host.agentId, 'rolled_back', host.detail);
      } catch (error) {
        logger.warn(
          { err: error, agentId: host.agentId, rolloutId: rollout.id },
          'could not send the previous image yet',
        );
      }
    }
  }

  /**
   * Stops the rollout, puts the fleet's previous image back, and returns every host it reached
   * (ready ones too: the fleet is not left split between two images) to the previous image.
   */
  async function halt(rollout: RolloutRecord, reason: string, actor: AuditActor): Promise<void> {
    const reached = db.transaction(() => {
      if (!finishRollout(db, rollout.id, 'halted', reason)) return undefined;
      const fleet = findCloudflaredConfig(db, null);
      saveCloudflaredConfig(db, null, { image: rollout.previousFleetImage, settings: fleet?.settings ?? {} });
      const hosts = listRolloutHosts(db, rollout.id).filter((host) =>
        ['upgrading', 'ready', 'failed'].includes(host.state),
      );
      for (const host of hosts) {
        const detail =
          host.state === 'failed'
            ? `${host.detail}; returned to ${rollout.previousImage}`
            : `returned to ${rollout.previousImage}`;
        setRolloutHostState(db, rollout.id, host.agentId, 'rolling_back', detail);
      }
      recordAudit(db, {
        actor,
        action: 'cloudflared.rollout.halt',
        target: rollout.id,
        details: {
          image: rollout.image,
          previousImage: rollout.previousImage,
          reason,
          rolledBack: hosts.map((h) => h.agentId),
        },
      });
      return hosts.map((host) => host.agentId);
    })();
    if (!reached) return;
    logger.warn({ rolloutId: rollout.id, reason }, 'rollout halted');
    deps.alerts.emit('rollout.halted', {
      rolloutId: rollout.id,
      image: rollout.image,
      previousImage: rollout.previousImage,
      rolledBack: reached,
      message: reason,
    });
    await sendRollbacks(rollout);
  }

  async function succeed(rollout: RolloutRecord, hosts: RolloutHostRecord[]): Promise<void> {
    if (!finishRollout(db, rollout.id, 'succeeded', null)) return;
    recordAudit(db, {
      actor: 'system',
      action: 'cloudflared.rollout.succeed',
      target: rollout.id,
      details: {
        image: rollout.image,
        hosts: hosts.filter((h) => h.state === 'ready').map((h) => h.agentId),
      },
    });
    logger.info({ rolloutId: rollout.id, image: rollout.image }, 'rollout succeeded');
    // Hosts offline during the rollout get the image now (queued until they poll); a paused
    // one is sent nothing (it gets it at resume), and one with its own image keeps that.
    for (const host of hosts.filter((h) => h.state === 'skipped')) {
      await deps
        .sendCloudflared(host.agentId)
        .catch((error: unknown) =>
          logger.warn(
            { err: error, agentId: host.agentId },
            'could not send the fleet image to a skipped host',
          ),
        );
    }
  }

  async function startWave(rollout: RolloutRecord, wave: number, hosts: RolloutHostRecord[]): Promise<void> {
    const members = hosts.filter((host) => host.wave === wave);
    recordAudit(db, {
      actor: 'system',
      action: 'cloudflared.rollout.wave',
      target: rollout.id,
      details: { wave, agents: members.map((host) => host.agentId) },
    });
    const unsent: string[] = [];
    for (const host of members) {
      setRolloutHostState(db, rollout.id, host.agentId, 'upgrading', `sent ${rollout.image}`, {
        waveStarted: true,
      });
      try {
        // Paused, revoked or deleted since the rollout was planned: nothing to upgrade there.
        if (!(await deps.sendCloudflared(host.agentId)))
          setRolloutHostState(db, rollout.id, host.agentId, 'skipped', 'no longer approved and running');
      } catch (error) {
        setRolloutHostState(
          db,
          rollout.id,
          host.agentId,
          'failed',
          `could not be sent the image: ${(error as Error).message}`,
        );
        unsent.push(host.agentId);
      }
    }
    if (unsent.length > 0)
      await halt(rollout, `wave ${wave}: ${unsent.join(', ')} could not be sent the image`, 'system');
  }

  async function checkWave(rollout: RolloutRecord, upgrading: RolloutHostRecord[]): Promise<void> {
    const failed: string[] = [];
    for (const host of upgrading) {
      const result = await verdict(rollout, host);
      if (result.ready) setState(rollout, host, 'ready', result.detail);
      else if (result.failed) {
        setState(rollout, host, 'failed', result.detail);
        failed.push(`${host.agentId} (${result.detail})`);
      } else {
        const deadline =
          Date.parse(host.waveStartedAt ?? rollout.startedAt) + rollout.waveTimeoutSeconds * 1000;
        if (now() < deadline) setState(rollout, host, 'upgrading', result.detail);
        else {
          const detail = `not ready and connected within ${rollout.waveTimeoutSeconds}s: ${result.detail}`;
          setState(rollout, host, 'failed', detail);
          failed.push(`${host.agentId} (${detail})`);
        }
      }
    }
    const wave = upgrading[0]!.wave;
    if (failed.length > 0) await halt(rollout, `wave ${wave} failed: ${failed.join('; ')}`, 'system');
  }

  /** One look at the running rollout: start the next wave, or judge the current one. */
  function advance(): Promise<void> {
    return turns.run('rollout', async () => {
      for (const rollout of listRolloutsRollingBack(db)) await sendRollbacks(rollout);
      const rollout = findRunningRollout(db);
      if (!rollout) return;
      const hosts = listRolloutHosts(db, rollout.id);
      const upgrading = hosts.filter((host) => host.state === 'upgrading');
      if (upgrading.length > 0) return checkWave(rollout, upgrading);
      const pending = hosts.filter((host) => host.state === 'pending' && host.wave !== null);
      if (pending.length === 0) return succeed(rollout, hosts);
      return startWave(rollout, Math.min(...pending.map((host) => host.wave!)), hosts);
    });
  }

  async function abort(rolloutId: string, actor: AuditActor): Promise<RolloutView> {
    await turns.run('rollout', async () => {
      const rollout = findRollout(db, rolloutId);
      if (!rollout) throw new NotFoundError(`rollout ${rolloutId} not found`);
      if (rollout.status !== 'running') throw new ConflictError(`rollout ${rolloutId} is ${rollout.status}`);
      await halt(rollout, `aborted by ${actor}`, actor);
    });
    return view(rolloutId);
  }

  function toView(rollout: RolloutRecord): RolloutView {
    const hosts = listRolloutHosts(db, rollout.id);
    const waves = hosts.reduce((most, host) => Math.max(most, (host.wave ?? -1) + 1), 0);
    const current = hosts.filter((host) => host.state === 'upgrading').map((host) => host.wave!);
    return {
      id: rollout.id,
      image: rollout.image,
      previousImage: rollout.previousImage,
      status: rollout.status,
      canarySize: rollout.canarySize,
      waveSize: rollout.waveSize,
      waveTimeoutSeconds: rollout.waveTimeoutSeconds,
      currentWave: rollout.status === 'running' && current.length > 0 ? Math.min(...current) : null,
      waves,
      startedAt: rollout.startedAt,
      finishedAt: rollout.finishedAt,
      haltReason: rollout.haltReason,
      hosts: hosts.map(({ agentId, wave, state, detail, updatedAt }) => ({
        agentId,
        wave,
        state,
        detail,
        updatedAt,
      })),
    };
  }

  function view(rolloutId: string): RolloutView {
    const rollout = findRollout(db, rolloutId);
    if (!rollout) throw new NotFoundError(`rollout ${rolloutId} not found`);
    return toView(rollout);
  }

  // A look that outlasts the interval (a slow Cloudflare answer) is not queued up behind: skipped.
  let looking = false;
  const tick = async () => {
    if (looking) return;
    looking = true;
    try {
      await advance();
    } catch (error) {
      logger.warn({ err: error }, 'rollout step failed; retrying next interval');
    } finally {
      looking = false;
    }
  };

  return {
    advance,
    abort,
    view,
    list: () => listRollouts(db).map(toView),
    /** Looks at once (a rollout was just started), then on the interval as always. */
    kick: () => void tick(),
    start() {
      timer ??= setInterval(tick, deps.intervalMs);
      timer.unref();
      void tick();
    },
    close() {
      clearInterval(timer);
      timer = undefined;
      return turns.run('rollout', async () => undefined);
    },
  };
}
