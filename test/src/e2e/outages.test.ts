import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { uniqueName } from '../harness/unique-name.js';
import { waitFor } from '../harness/wait-for.js';
import { startAgentProcess } from '../system/agent-process.js';
import { CLOUDFLARED_AGENT_ID_LABEL } from '../system/fleet.js';
import { startSecondDockerEngine } from '../system/second-docker-engine.js';
import {
  expectConverged,
  publishLabels,
  tunnelIdOf,
  uniqueHostname,
  useFleet,
  waitPublished,
  waitRouteStatus,
} from './support.js';

const fleet = useFleet({ secondEngine: 'docker6' });

/**
 * The issue speaks of minutes; 20 s is equivalent here: nothing in the agent or cloudflared
 * counts the outage's length (the agent's outage budget is 24 h), the agent's retry backoff
 * reaches its longer steps within it, and the stand-in edge would drop a connection after 3 s.
 */
const OUTAGE_MS = 20_000;

/** Watches the edge connections of tunnels and remembers whether one ever dropped. */
function watchEdge(tunnelIds: string[]) {
  let dropped: string | undefined;
  const timer = setInterval(() => {
    for (const id of tunnelIds) if (fleet().emulator.tunnelConnections(id).length === 0) dropped ??= id;
  }, 100);
  return {
    dropped: () => dropped,
    stop: () => clearInterval(timer),
  };
}

async function runningCloudflared(host: ReturnType<typeof fleet>['a']) {
  return (await host.cloudflared()).filter((c) => c.State === 'running');
}

describe('outages', { timeout: 180_000 }, () => {
  it('rides out a master outage: hosts keep serving, a restarted agent restores cloudflared from its cache, the return resyncs', async () => {
    const { a, b, master, emulator } = fleet();
    const [tunnelA, tunnelB] = await Promise.all([tunnelIdOf(fleet(), a), tunnelIdOf(fleet(), b)]);
    const leaving = uniqueHostname('leaving');
    const leavingApp = await b.runContainer({ labels: publishLabels(leaving) });
    await waitPublished(fleet(), b, leaving);

    const edgeB = watchEdge([tunnelB]);
    try {
      await master.kill9();
      const outageStarted = Date.now();

      // Host A loses its agent and its cloudflared while the master is away: the restarted agent
      // brings cloudflared back from its cached tunnel state alone.
      await a.agent.stop();
      for (const c of await a.cloudflared()) await a.docker.getContainer(c.Id).remove({ force: true });
      await waitFor(() => emulator.tunnelConnections(tunnelA).length === 0, {
        description: "host A's edge connection to expire",
        timeoutMs: 15_000,
      });
      await a.agent.start();
      await waitFor(async () => (await runningCloudflared(a)).length === 1, {
        description: "host A's cloudflared back from the agent's cache",
        timeoutMs: 30_000,
      });
      await waitFor(() => emulator.tunnelConnections(tunnelA).length > 0, {
        description: "host A's cloudflared on the edge again, the master still down",
        timeoutMs: 30_000,
      });
      expect(master.running()).toBe(false);

      // Host B's agent restarts too, and changes happen on B meanwhile.
      await b.agent.restart();
      const arriving = uniqueHostname('arriving');
      await b.runContainer({ labels: publishLabels(arriving) });
      await leavingApp.container.remove({ force: true });

      // The outage lasts its full length (the point of the scenario is its duration).
      await delay(Math.max(0, OUTAGE_MS - (Date.now() - outageStarted)));
      expect(edgeB.dropped()).toBeUndefined();
      expect(await runningCloudflared(b)).toHaveLength(1);
      expect(await runningCloudflared(a)).toHaveLength(1);

      await master.start();
      await waitPublished(fleet(), b, arriving);
      await waitRouteStatus(fleet(), leaving, await b.agentId(), 'pending_deletion');
      await expectConverged(fleet());
      expect(edgeB.dropped()).toBeUndefined();
    } finally {
      edgeB.stop();
    }
  });

  it('loses no route change and no command when Redis restarts in the middle of traffic', async () => {
    const { b, master, redis, admin } = fleet();
    // A third host whose approval (which queues its start_tunnel) lands just before Redis goes.
    const engine = await startSecondDockerEngine({ name: 'docker11' });
    const network = uniqueName('tf-e2e-host-c');
    await engine.createAgentNetworks(network);
    const dataDir = await mkdtemp(join(tmpdir(), 'tunnelfleet-host-c-'));
    const { key } = await admin.createKey({ name: uniqueName('host-c'), autoApprove: false });
    fleet().secrets.add('API key host-c', key);
    const agentC = await startAgentProcess({
      masterUrl: master.url,
      apiKey: key,
      name: 'host-c',
      dockerHost: engine.dockerHost,
      dataDir,
      cloudflaredNetwork: network,
      logFile: join(dataDir, 'agent.log'),
    });
    try {
      const idC = await waitFor(() => agentC.agentId(), { description: 'host C to register' });
      const hostnames = Array.from({ length: 10 }, (_, i) => uniqueHostname(`redis-${i}`));
      const traffic = (async () => {
        for (const hostname of hostnames) await b.runContainer({ labels: publishLabels(hostname) });
      })();
      await admin.approveAgent(idC);
      await redis.restart();
      await traffic;

      await Promise.all(hostnames.map((hostname) => waitPublished(fleet(), b, hostname)));
      const tunnelC = await waitFor(async () => (await admin.agent(idC)).tunnel?.id, {
        description: "host C's tunnel",
        timeoutMs: 60_000,
      });
      await waitFor(() => fleet().emulator.tunnelConnections(tunnelC).length > 0, {
        description: "host C's start_tunnel delivered: its cloudflared on the edge",
        timeoutMs: 90_000,
      });
      await expectConverged(fleet());
      expect(await agentC.logs()).not.toContain(key);
    } finally {
      await agentC.stop();
      const id = await agentC.agentId();
      const leftovers = await engine.docker.listContainers({
        all: true,
        filters: { label: [`${CLOUDFLARED_AGENT_ID_LABEL}=${id}`] },
      });
      for (const c of leftovers) await engine.docker.getContainer(c.Id).remove({ force: true });
      await engine.docker.getNetwork(network).remove();
      // The agent's cloudflared metrics network (agent/src/cloudflared/container-spec.ts).
      await engine.docker
        .getNetwork(`${network}-metrics`)
        .remove()
        .catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('brings a killed cloudflared back on the edge', async () => {
    const { b, emulator } = fleet();
    const tunnelB = await tunnelIdOf(fleet(), b);
    const [victim] = await runningCloudflared(b);
    expect(victim).toBeDefined();
    await b.docker.getContainer(victim!.Id).kill();
    await waitFor(async () => (await runningCloudflared(b)).length === 1, {
      description: "host B's cloudflared running again",
      timeoutMs: 30_000,
    });
    await waitFor(() => emulator.tunnelConnections(tunnelB).length > 0, {
      description: "host B's cloudflared back on the edge",
      timeoutMs: 30_000,
    });
  });
});
