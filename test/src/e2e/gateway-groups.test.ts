import { gatewayServiceUrl } from '@tunnelfleet/common';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/wait-for.js';
import { reportedContainer } from '../system/protocol-agent.js';
import {
  gatewayAddress,
  hostnameState,
  reportWithBarrier,
  sentGatewayTables,
  throughGateway,
  useGatewayFleet,
} from './gateway-support.js';
import {
  attacker,
  CONVERGE_TIMEOUT_MS,
  cloudView,
  publishLabels,
  routesOf,
  rulesFor,
  uniqueHostname,
  waitPublished,
} from './support.js';

const { fleet, gatewayVolumeOf } = useGatewayFleet({ secondEngine: 'docker28' });

/** The container that answered (the web image answers with its hostname: its id's first 12 characters). */
async function answerer(address: string, hostname: string): Promise<string> {
  const reply = await throughGateway(address, hostname);
  expect(reply.status).toBe(200);
  return reply.body.trim();
}

/** Waits until every one of these containers answered through the gateway: the whole group is in its table. */
async function waitGroupServed(address: string, hostname: string, ids: readonly string[]): Promise<void> {
  const seen = new Set<string>();
  await waitFor(
    async () => {
      const reply = await throughGateway(address, hostname).catch(() => undefined);
      if (reply?.status === 200) seen.add(reply.body.trim());
      return ids.every((id) => seen.has(id)) || undefined;
    },
    {
      description: `every member of ${hostname}'s group answering through the gateway`,
      timeoutMs: CONVERGE_TIMEOUT_MS,
    },
  );
}

describe('groups of containers under one hostname, through the host gateway', { timeout: 300_000 }, () => {
  it('publishes one rule for two containers with weights 1/1, which take turns exactly; another agent never joins', async () => {
    const f = fleet();
    const agentId = await f.a.agentId();
    gatewayVolumeOf(agentId);
    const hostname = uniqueHostname('group');
    const labels = publishLabels(hostname, { 'tunnelfleet.weight': '1' });
    const one = await f.a.runContainer({ labels });
    const two = await f.a.runContainer({ labels });
    const ids = [one.id.slice(0, 12), two.id.slice(0, 12)];

    // One rule for the hostname, naming the gateway; both routes accepted, as one group.
    const { rule } = await waitPublished(f, f.a, hostname);
    expect(rule.service).toBe(gatewayServiceUrl(agentId));
    const routes = await waitFor(
      async () => {
        const found = await routesOf(f, hostname);
        return found.length === 2 && found.every((route) => route.status === 'active') ? found : undefined;
      },
      { description: 'both routes of the group active', timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    const memberIds = routes.map((route) => route.id).sort((a, b) => a - b);
    for (const route of routes)
      expect([...(route.gatewayGroup ?? [])].sort((a, b) => a - b)).toEqual(memberIds);
    expect(rulesFor(cloudView(f), hostname)).toHaveLength(1);

    const address = await gatewayAddress(f.a.docker, agentId, f.a.network);
    await waitGroupServed(address, hostname, ids);

    // Another agent claims the hostname with an overwhelming weight: a conflict, never a member.
    const before = hostnameState(f, hostname);
    const barrier = uniqueHostname('group-barrier');
    const c = await attacker(f, 'attacker-group', [hostname, barrier]);
    expect(
      (
        await c.heartbeat({
          gateway: {
            state: 'running',
            ready: true,
            serviceUrl: gatewayServiceUrl(c.agentId),
            image: 'evil:1',
          },
        })
      ).status,
    ).toBe(200);
    await reportWithBarrier(f, c, barrier, [
      reportedContainer(
        'e1',
        'join',
        publishLabels(hostname, {
          'tunnelfleet.weight': '1000000',
          'tunnelfleet.service': 'http://10.0.0.7:80',
        }),
      ),
    ]);
    const joined = (await routesOf(f, hostname)).find((route) => route.agentId === c.agentId);
    expect(joined?.status).toBe('conflict');
    expect(joined?.gatewayGroup).toBeNull();
    expect(joined?.statusMessage).toContain(`is held by agent ${agentId}`);
    await f.admin.reconcile();
    expect(hostnameState(f, hostname)).toBe(before);
    for (const hostnames of await sentGatewayTables(c)) expect(hostnames).not.toContain(hostname);

    // Equal weights take turns: each answer is the other container's, exactly, and only the two.
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(await answerer(address, hostname));
    expect(new Set(answers)).toEqual(new Set(ids));
    for (let i = 1; i < answers.length; i++) expect(answers[i]).not.toBe(answers[i - 1]);
  });

  it('splits a 90/10 canary in proportion', async () => {
    const f = fleet();
    const agentId = await f.a.agentId();
    const hostname = uniqueHostname('canary');
    const stable = await f.a.runContainer({ labels: publishLabels(hostname, { 'tunnelfleet.weight': '9' }) });
    const canary = await f.a.runContainer({ labels: publishLabels(hostname, { 'tunnelfleet.weight': '1' }) });
    const ids = [stable.id.slice(0, 12), canary.id.slice(0, 12)];
    expect((await waitPublished(f, f.a, hostname)).rule.service).toBe(gatewayServiceUrl(agentId));
    const address = await gatewayAddress(f.a.docker, agentId, f.a.network);
    await waitGroupServed(address, hostname, ids);

    const n = 1000;
    let toCanary = 0;
    for (let i = 0; i < n; i++) {
      const who = await answerer(address, hostname);
      expect(ids).toContain(who);
      if (who === ids[1]) toCanary++;
    }
    // Binomial(1000, 0.1): mean 100, standard deviation 9.5; ±6 of them essentially never fails.
    const sd = Math.sqrt(n * 0.1 * 0.9);
    expect(Math.abs(toCanary - n * 0.1)).toBeLessThan(6 * sd);
  });
});
