import { gatewayServiceUrl } from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { describe, expect, it } from 'vitest';
import {
  cnames,
  container,
  ingressRules,
  type ReconcilerWorld,
  useReconcilerWorlds,
  webLabels,
} from '../../test/reconciler-test-world.js';
import { saveAgentGateway } from '../store/agent-gateways.js';
import { listRoutes } from '../store/routes.js';

const startWorld = useReconcilerWorlds();
let world: ReconcilerWorld;

const HOSTNAME = 'shop.example.com';
const member = (name: string, more: Record<string, string>) =>
  container(name, webLabels(HOSTNAME, { 'tunnelfleet.service': `http://${name}:80`, ...more }));

/** An agent whose gateway is up and ready at the address the master derives. */
async function agentWithGateway() {
  const agent = await world.addAgent();
  saveAgentGateway(
    world.db,
    agent.agentId,
    { ready: true, serviceUrl: gatewayServiceUrl(agent.agentId) },
    new Date().toISOString(),
  );
  return agent;
}

/** Everything the emulator holds for the hostname, serialised: its record and every tunnel's rules for it. */
function hostnameState(tunnelIds: readonly string[]): string {
  return JSON.stringify({
    records: cnames(world, HOSTNAME),
    rules: tunnelIds.map((id) => ingressRules(world, id).filter((rule) => rule.hostname === HOSTNAME)),
  });
}

describe('gateway groups at the emulator', () => {
  it('publishes one rule naming the gateway for a canary pair, each member active', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await agentWithGateway();
    await world.report(agentId, member('stable', { 'tunnelfleet.weight': '90' }));
    await world.report(agentId, member('canary', { 'tunnelfleet.weight': '10' }));
    await world.reconciler.reconcileNow();

    await waitFor(() => listRoutes(world.db).every((route) => route.status === 'active') || undefined, {
      description: 'both members active',
    });
    expect(listRoutes(world.db).map((route) => [route.containerName, route.status])).toEqual([
      ['stable', 'active'],
      ['canary', 'active'],
    ]);
    expect(ingressRules(world, tunnelId).filter((rule) => rule.hostname === HOSTNAME)).toEqual([
      expect.objectContaining({ hostname: HOSTNAME, service: gatewayServiceUrl(agentId) }),
    ]);
    expect(cnames(world, HOSTNAME)).toHaveLength(1);
  });

  it("gives the rule's verdict to every member: a foreign rule on the hostname makes each a conflict", async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await agentWithGateway();
    world.emulator.setTunnelConfig(tunnelId, {
      ingress: [{ hostname: HOSTNAME, service: 'http://legacy:80' }, { service: 'http_status:404' }],
    });
    await world.report(agentId, member('stable', { 'tunnelfleet.weight': '90' }));
    await world.report(agentId, member('canary', { 'tunnelfleet.weight': '10' }));
    await world.reconciler.reconcileNow();

    const routes = await waitFor(
      () => {
        const found = listRoutes(world.db);
        return found.every((route) => route.status === 'conflict') ? found : undefined;
      },
      { description: 'both members in conflict with the foreign rule' },
    );
    for (const route of routes) expect(route.statusMessage).toContain('that Tunnelfleet does not own');
    expect(ingressRules(world, tunnelId).filter((rule) => rule.hostname === HOSTNAME)).toEqual([
      { hostname: HOSTNAME, service: 'http://legacy:80' },
    ]);
  });

  it("keeps an attacker agent's weighted claim out of the victim's group: the emulator unchanged byte for byte", async () => {
    world = await startWorld();
    const victim = await agentWithGateway();
    const attacker = await agentWithGateway();
    await world.report(victim.agentId, member('stable', { 'tunnelfleet.weight': '90' }));
    await world.report(victim.agentId, member('canary', { 'tunnelfleet.weight': '10' }));
    await world.reconciler.reconcileNow();
    const tunnels = [victim.tunnelId, attacker.tunnelId];
    await waitFor(() => cnames(world, HOSTNAME).length === 1 || undefined, { description: 'published' });
    const before = hostnameState(tunnels);

    await world.report(attacker.agentId, member('evil', { 'tunnelfleet.weight': '1000000' }));
    await world.reconciler.reconcileNow();

    const evil = listRoutes(world.db, { agentId: attacker.agentId })[0];
    expect(evil?.status).toBe('conflict');
    expect(evil?.statusMessage).toContain(`is held by agent ${victim.agentId}`);
    expect(hostnameState(tunnels)).toBe(before);
    expect(ingressRules(world, attacker.tunnelId).some((rule) => rule.hostname === HOSTNAME)).toBe(false);
  });
});
