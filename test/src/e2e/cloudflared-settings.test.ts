import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import {
  CLOUDFLARED_IMAGE,
  TEST_CLOUDFLARED_NEXT_IMAGE,
  TEST_CLOUDFLARED_NEXT_VERSION,
} from '../harness/test-images.js';
import { waitFor } from '../harness/wait-for.js';
import type { Fleet, FleetHost } from '../system/fleet.js';
import { CONVERGE_TIMEOUT_MS, tunnelIdOf, useFleet } from './support.js';

const fleet = useFleet({ secondEngine: 'docker20' });

async function runningCloudflared(host: FleetHost): Promise<Docker.ContainerInfo | undefined> {
  const running = (await host.cloudflared()).filter((container) => container.State === 'running');
  return running.length === 1 ? running[0] : undefined;
}

/** The host's one running cloudflared once `accept` holds for it, and its tunnel has a connector. */
async function waitCloudflared(
  f: Fleet,
  host: FleetHost,
  why: string,
  accept: (container: Docker.ContainerInfo) => boolean,
): Promise<Docker.ContainerInfo> {
  const tunnelId = await tunnelIdOf(f, host);
  const container = await waitFor(
    async () => {
      const found = await runningCloudflared(host);
      return found && accept(found) ? found : undefined;
    },
    { description: `${host.name}'s cloudflared (${why})`, timeoutMs: CONVERGE_TIMEOUT_MS },
  );
  await waitFor(() => f.emulator.tunnelConnections(tunnelId).length > 0, {
    description: `${host.name}'s cloudflared connected (${why})`,
    timeoutMs: CONVERGE_TIMEOUT_MS,
  });
  return container;
}

/** What `GET /agents` says the host's cloudflared runs, once it reports `version` while connected. */
async function waitReported(f: Fleet, host: FleetHost, version: string) {
  const agentId = await host.agentId();
  return waitFor(
    async () => {
      const view = (await f.admin.agents()).find((agent) => agent.id === agentId);
      // The connector id comes from `/ready`, which the stand-in answers only while connected.
      return view?.cloudflared?.version === version && view.cloudflared.connectorId
        ? view.cloudflared
        : undefined;
    },
    { description: `${host.name} to report cloudflared ${version}`, timeoutMs: CONVERGE_TIMEOUT_MS },
  );
}

/**
 * Resolves once the agent reported (heartbeat `lastAppliedCommandVersion`) that it finished applying
 * a command issued after `before`: a container it was going to replace has been replaced by then.
 */
async function waitApplied(f: Fleet, host: FleetHost, before: number) {
  const agentId = await host.agentId();
  await waitFor(
    async () => {
      const state = (await f.admin.agent(agentId)).lastState as { lastAppliedCommandVersion?: number } | null;
      return (state?.lastAppliedCommandVersion ?? 0) > before;
    },
    { description: `${host.name} to apply the next command`, timeoutMs: CONVERGE_TIMEOUT_MS },
  );
  return host.agent.tunnelState();
}

describe("choosing cloudflared's image and settings", { timeout: 240_000 }, () => {
  it('a fleet image change reaches every host: cloudflared is recreated with it and reports its release', async () => {
    const { a, b, admin } = fleet();
    const before = await waitCloudflared(fleet(), b, 'first start', () => true);
    expect(before.Image).toBe(CLOUDFLARED_IMAGE);
    const reported = await waitReported(fleet(), b, 'standin');
    expect(reported.image).toBe(CLOUDFLARED_IMAGE);

    // A new fleet image rolls out (canary, then the rest); the settings part reaches every host now.
    const answer = await admin.setCloudflared({ image: TEST_CLOUDFLARED_NEXT_IMAGE });
    expect(answer.updatedAgents.sort()).toEqual([await a.agentId(), await b.agentId()].sort());
    expect(answer.rollout).toMatchObject({ status: 'running', image: TEST_CLOUDFLARED_NEXT_IMAGE });

    for (const host of [a, b]) {
      const after = await waitCloudflared(
        fleet(),
        host,
        'the new image',
        (container) => container.Image === TEST_CLOUDFLARED_NEXT_IMAGE,
      );
      if (host === b) expect(after.Id).not.toBe(before.Id);
      const now = await waitReported(fleet(), host, TEST_CLOUDFLARED_NEXT_VERSION);
      expect(now.image).toBe(TEST_CLOUDFLARED_NEXT_IMAGE);
      // A new container is a new connector of the tunnel.
      if (host === b) expect(now.connectorId).not.toBe(reported.connectorId);
    }
    // One container per host: the old one is gone, not left stopped beside the new one.
    expect(await b.cloudflared()).toHaveLength(1);
  });

  it('recreates nothing for a change that leaves the command line as it was, and only the host it names', async () => {
    const { a, b, admin } = fleet();
    // Where the test above leaves the fleet, whether it ran or not.
    await admin.setCloudflared({ image: TEST_CLOUDFLARED_NEXT_IMAGE });
    const onNextImage = (container: Docker.ContainerInfo) => container.Image === TEST_CLOUDFLARED_NEXT_IMAGE;
    const aBefore = await waitCloudflared(fleet(), a, 'before', onNextImage);
    const bBefore = await waitCloudflared(fleet(), b, 'before', onNextImage);
    const bVersion = Number((await b.agent.tunnelState())?.version);

    // post-quantum off is cloudflared's default and adds no flag: the agents get new settings only.
    const answer = await admin.setCloudflared({
      image: TEST_CLOUDFLARED_NEXT_IMAGE,
      settings: { postQuantum: false },
    });
    expect(answer.updatedAgents).toContain(await b.agentId());
    const applied = await waitApplied(fleet(), b, bVersion);
    expect(applied?.settings).toEqual({ postQuantum: false });
    expect((await runningCloudflared(b))?.Id).toBe(bBefore.Id);

    // An override for host A only: its command line changes, B's does not.
    const aVersion = Number((await a.agent.tunnelState())?.version);
    const override = await admin.setCloudflared({ settings: { logLevel: 'debug' } }, await a.agentId());
    expect(override.updatedAgents).toEqual([await a.agentId()]);
    await waitApplied(fleet(), a, aVersion);
    const aAfter = await waitCloudflared(
      fleet(),
      a,
      'the override',
      (container) => container.Id !== aBefore.Id,
    );
    const command = (await a.docker.getContainer(aAfter.Id).inspect()).Config.Cmd;
    expect(command).toEqual(expect.arrayContaining(['--loglevel', 'debug']));
    // The override leaves the fleet's image in place: only the settings it names are its own.
    expect(aAfter.Image).toBe(TEST_CLOUDFLARED_NEXT_IMAGE);
    expect((await runningCloudflared(b))?.Id).toBe(bBefore.Id);

    const audit = await admin.audit({ target: 'fleet' });
    expect(audit.entries.filter((entry) => entry.action === 'cloudflared.set')).toHaveLength(3);
  });
});
