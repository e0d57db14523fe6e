import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_BUSYBOX_IMAGE } from '../harness/test-images.js';
import { waitFor } from '../harness/wait-for.js';
import { type Fleet, startFleet } from './fleet.js';

describe('startFleet', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await startFleet({ secondEngine: 'docker10' });
  }, 180_000);
  afterAll(async () => {
    await fleet?.teardown();
  });

  it('registers one agent per host and gets each host a cloudflared connected to the emulated edge', {
    timeout: 120_000,
  }, async () => {
    const ids = await Promise.all([fleet.a.agentId(), fleet.b.agentId()]);
    expect(new Set(ids).size).toBe(2);
    const agents = await fleet.admin.agents();
    expect(agents.map((agent) => agent.id).sort()).toEqual([...ids].sort());

    for (const host of [fleet.a, fleet.b]) {
      const tunnel = await waitFor(async () => (await fleet.admin.agent(await host.agentId())).tunnel, {
        description: `${host.name}'s tunnel`,
        timeoutMs: 30_000,
      });
      await waitFor(() => fleet.emulator.tunnelConnections(tunnel.id).length > 0, {
        description: `${host.name}'s cloudflared to connect to the emulated edge`,
        timeoutMs: 60_000,
      });
      const running = (await host.cloudflared()).filter((c) => c.State === 'running');
      expect(running).toHaveLength(1);
    }
  });

  it('keeps the second engine apart from the main one, which keeps its docker0', async () => {
    const [mainNetworks, secondNetworks] = await Promise.all([
      fleet.a.docker.listNetworks(),
      fleet.b.docker.listNetworks(),
    ]);
    expect(mainNetworks.map((n) => n.Name)).toContain(fleet.a.network);
    expect(mainNetworks.map((n) => n.Name)).not.toContain(fleet.b.network);
    expect(secondNetworks.map((n) => n.Name)).toContain(fleet.b.network);
    const subnets = (networks: typeof mainNetworks) =>
      networks.flatMap((n) => n.IPAM?.Config?.map((c) => c.Subnet) ?? []);
    const mainSubnets = subnets(mainNetworks);
    for (const subnet of subnets(secondNetworks)) expect(mainSubnets).not.toContain(subnet);
    // The fleet's networks there, the agent's cloudflared metrics network included, are in the
    // engine's own range: Docker's default pools are the main engine's too, and the host would
    // route an address of both to one engine only.
    const ownPrefix = `${fleet.secondEngine.addressRange.split('.').slice(0, 2).join('.')}.`;
    const fleetNetworks = secondNetworks.filter((n) => n.Name.startsWith(fleet.b.network));
    expect(fleetNetworks.map((n) => n.Name).sort()).toEqual([fleet.b.network, `${fleet.b.network}-metrics`]);
    for (const subnet of subnets(fleetNetworks))
      expect(subnet?.startsWith(ownPrefix), `${subnet} in ${fleet.secondEngine.addressRange}`).toBe(true);
    // The main engine's default bridge still works after the second engine started.
    const probe = await fleet.a.docker.createContainer({ Image: TEST_BUSYBOX_IMAGE, Cmd: ['true'] });
    try {
      await probe.start();
      expect((await probe.wait()).StatusCode).toBe(0);
    } finally {
      await probe.remove({ force: true });
    }
  });
});
