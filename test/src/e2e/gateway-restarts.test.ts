import { gatewayNames, gatewayServiceUrl } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerCli } from '../harness/docker-cli.js';
import { GATEWAY_TEST_IMAGE } from '../harness/gateway-image.js';
import { uniqueName } from '../harness/unique-name.js';
import { waitFor } from '../harness/wait-for.js';
import type { Fleet } from '../system/fleet.js';
import { directJson, type EchoContainer, runEcho, useEchoImage } from './echo-support.js';
import { gatewayAddress, gatewayRequest, useGatewayImage } from './gateway-support.js';
import {
  CONVERGE_TIMEOUT_MS,
  cloudView,
  publishLabels,
  rulesFor,
  uniqueHostname,
  useFleet,
  waitPublished,
} from './support.js';

// Built before the fleet starts, on the main engine, where host A's agent runs the gateway.
const gatewayVolumeOf = useGatewayImage();
useEchoImage();

// The same image under another tag: to the agent, an upgrade to a new gateway image.
const UPGRADED_IMAGE = `tunnelfleet-test/agent-gateway:${uniqueName('upgraded')}`;
afterAll(() => dockerCli(['image', 'rm', UPGRADED_IMAGE]).catch(() => undefined));

// Host A (the main engine) runs the gateway: a second engine drops traffic between its containers.
const fleet = useFleet({ secondEngine: 'docker33', hostEnv: { a: { GATEWAY_IMAGE: GATEWAY_TEST_IMAGE } } });

interface Tally {
  ok: number;
  failed: number;
  errors: string[];
}

/**
 * A published echo container and, on the cloudflared network, the load client asking host A's
 * gateway for it by the alias cloudflared dials (Docker's DNS), 4 requests at a time, each held
 * 100 ms by the backend: requests are in flight whenever something restarts.
 */
async function underLoad(
  f: Fleet,
): Promise<{ hostname: string; backend: EchoContainer; tally: () => Promise<Tally> }> {
  const agentId = await f.a.agentId();
  gatewayVolumeOf(agentId);
  const hostname = uniqueHostname('load');
  const backend = await runEcho(f.a, { labels: publishLabels(hostname, { 'tunnelfleet.weight': '1' }) });
  expect((await waitPublished(f, f.a, hostname)).rule.service).toBe(gatewayServiceUrl(agentId));
  const address = await gatewayAddress(f.a.docker, agentId, f.a.network);
  await waitFor(
    async () => (await gatewayRequest(address, { hostname }).catch(() => undefined))?.status === 200,
    {
      description: 'the gateway routing the hostname',
      timeoutMs: CONVERGE_TIMEOUT_MS,
    },
  );
  const client = await runEcho(f.a, {
    loadClient: {
      TARGET: gatewayNames(agentId).proxyAlias,
      PUBLIC_HOST: hostname,
      CONCURRENCY: '4',
      DELAY_MS: '100',
    },
  });
  const tally = () => directJson<Tally>(client.address, 9000, '/tally');
  await waitFor(async () => ((await tally().catch(() => undefined))?.ok ?? 0) > 40, {
    description: 'traffic through the gateway',
    timeoutMs: CONVERGE_TIMEOUT_MS,
  });
  return { hostname, backend, tally };
}

/** Waits for `more` successful requests beyond now. */
async function moreTraffic(tally: () => Promise<Tally>, more: number, what: string): Promise<void> {
  const from = (await tally()).ok;
  await waitFor(async () => (await tally()).ok >= from + more, {
    description: what,
    timeoutMs: CONVERGE_TIMEOUT_MS,
  });
}

/** Samples the hostname's ingress rule until stopped: every moment it did not name the gateway. */
function watchRule(f: Fleet, hostname: string, service: string): { stop(): string[] } {
  const gaps: string[] = [];
  const timer = setInterval(() => {
    const rules = rulesFor(cloudView(f), hostname);
    if (rules.length !== 1 || rules[0]!.service !== service)
      gaps.push(`${new Date().toISOString()} ${JSON.stringify(rules)}`);
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return gaps;
    },
  };
}

async function gatewayContainer(docker: Docker, agentId: string) {
  return docker
    .getContainer(gatewayNames(agentId).container)
    .inspect()
    .catch(() => undefined);
}

/** `start` and `die` of this agent's gateway containers since `since` (seconds), in order: when, and how each died. */
async function gatewayEvents(
  docker: Docker,
  agentId: string,
  since: number,
): Promise<Array<{ event: string; at: string; exitCode?: string }>> {
  const stream = (await docker.getEvents({
    since,
    until: Math.ceil(Date.now() / 1000),
    filters: {
      type: ['container'],
      event: ['start', 'die'],
      label: ['tunnelfleet.managed=gateway', `tunnelfleet.agent-id=${agentId}`],
    },
  })) as unknown as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(
      (line) =>
        JSON.parse(line) as {
          Action: string;
          id: string;
          timeNano: number;
          Actor: { Attributes: Record<string, string> };
        },
    )
    .map((event) => ({
      event: `${event.Action} ${event.id}`,
      at: new Date(event.timeNano / 1e6).toISOString(),
      ...(event.Action === 'die' ? { exitCode: event.Actor.Attributes.exitCode } : {}),
    }));
}

describe('restarts under load, through the host gateway', { timeout: 300_000 }, () => {
  it('keeps serving while the agent restarts and while it crashes: not one request fails, the route stays published', async () => {
    const f = fleet();
    const agentId = await f.a.agentId();
    const { hostname, tally } = await underLoad(f);
    const gateway = await gatewayContainer(f.a.docker, agentId);
    const rule = watchRule(f, hostname, gatewayServiceUrl(agentId));

    // A graceful restart (an upgrade of the agent alone, a config change), then a crash.
    await f.a.agent.restart();
    await moreTraffic(tally, 40, 'traffic after the agent restarted');
    await f.a.agent.kill9();
    await moreTraffic(tally, 40, 'traffic while the agent is down');
    const restartedAt = Date.now();
    await f.a.agent.start();
    // The agent is back at the master (heartbeats), and traffic still flows.
    await waitFor(
      async () => {
        const seen = (await f.admin.agent(agentId)).lastSeenAt;
        return seen !== null && Date.parse(seen) > restartedAt;
      },
      { description: 'the restarted agent to report to the master', timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    await moreTraffic(tally, 40, 'traffic after the agent came back');

    expect(await tally()).toMatchObject({ failed: 0, errors: [] });
    expect(rule.stop()).toEqual([]);
    // The restarted agent adopted the gateway it found: the same container served throughout.
    const after = await gatewayContainer(f.a.docker, agentId);
    expect(after?.Id).toBe(gateway?.Id);
    expect(after?.State.StartedAt).toBe(gateway?.State.StartedAt);
  });

  it('replaces the gateway when the agent is upgraded to a new gateway image, overlapped: not one request fails', async () => {
    const f = fleet();
    const agentId = await f.a.agentId();
    const { hostname, tally } = await underLoad(f);
    const old = await gatewayContainer(f.a.docker, agentId);
    expect(old?.Config.Image).toBe(GATEWAY_TEST_IMAGE);
    const rule = watchRule(f, hostname, gatewayServiceUrl(agentId));

    // The operator's upgrade: a new GATEWAY_IMAGE, and the agent restarted with it.
    await dockerCli(['tag', GATEWAY_TEST_IMAGE, UPGRADED_IMAGE]);
    const since = Math.floor(Date.now() / 1000);
    f.a.agent.setEnv({ GATEWAY_IMAGE: UPGRADED_IMAGE });
    await f.a.agent.restart();
    const replaced = await waitFor(
      async () => {
        const now = await gatewayContainer(f.a.docker, agentId);
        const leftovers = await f.a.docker.listContainers({
          all: true,
          filters: { label: ['tunnelfleet.managed=gateway', `tunnelfleet.agent-id=${agentId}`] },
        });
        return now?.Config.Image === UPGRADED_IMAGE && now.State.Running && leftovers.length === 1
          ? now
          : undefined;
      },
      {
        description: 'the gateway replaced by one of the new image, the old one gone',
        timeoutMs: CONVERGE_TIMEOUT_MS,
      },
    );
    await moreTraffic(tally, 40, 'traffic through the new gateway');

    const events = await gatewayEvents(f.a.docker, agentId, since);
    // A failed request's time, read against when each gateway started and stopped.
    expect(await tally(), `gateway events: ${JSON.stringify(events)}`).toMatchObject({
      failed: 0,
      errors: [],
    });
    expect(rule.stop()).toEqual([]);
    // Overlapped: the new gateway started before the old one stopped.
    expect(events.map(({ event }) => event)).toEqual([`start ${replaced.Id}`, `die ${old!.Id}`]);
  });
});
