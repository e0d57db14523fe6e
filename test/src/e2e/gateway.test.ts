import { gatewayServiceUrl } from '@tunnelfleet/common';
import type Docker from 'dockerode';
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
  tunnelIdOf,
  uniqueHostname,
  waitPublished,
  waitRouteStatus,
} from './support.js';

const GRACE_SECONDS = 2;

// A short grace period makes a sleeping container that were taken for a stopped one lose its
// route within seconds.
const { fleet, gatewayVolumeOf } = useGatewayFleet({
  secondEngine: 'docker27',
  masterEnv: { GRACE_PERIOD_SECONDS: String(GRACE_SECONDS) },
});

/** `docker start` events of one container between two times (seconds), as the engine recorded them. */
async function startEvents(docker: Docker, name: string, since: number, until: number): Promise<number> {
  const stream = (await docker.getEvents({
    since,
    until,
    filters: { type: ['container'], event: ['start'], container: [name] },
  })) as unknown as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text.split('\n').filter((line) => line.trim() !== '').length;
}

describe('wake on request through the host gateway', { timeout: 300_000 }, () => {
  it('publishes a wake route through the gateway, keeps it published while it sleeps, and one start wakes it for 100 requests', async () => {
    const f = fleet();
    const agentId = await f.a.agentId();
    gatewayVolumeOf(agentId);
    const hostname = uniqueHostname('wake');
    const plain = uniqueHostname('plain');
    const app = await f.a.runContainer({
      // Long enough for the master to be told of the restart after the 100 requests below (the
      // route seen `running` again) before the container idles out once more, on a loaded host.
      labels: publishLabels(hostname, { 'tunnelfleet.wake': 'true', 'tunnelfleet.idle_timeout': '10s' }),
    });
    const direct = await f.a.runContainer({ labels: publishLabels(plain) });

    // The ingress rule names the gateway at the address the master derives; plain routes stay direct.
    const { rule } = await waitPublished(f, f.a, hostname);
    expect(rule.service).toBe(gatewayServiceUrl(agentId));
    expect((await waitPublished(f, f.a, plain)).rule.service).toBe(`http://${direct.name}:80`);

    // Running before any request: the idle clock starts with the first one, so this cannot race it.
    const [awake] = await waitFor(
      async () => {
        const routes = await routesOf(f, hostname);
        return routes[0]?.wakeState === 'running' ? routes : undefined;
      },
      { description: 'the wake route seen running', timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    expect(awake?.status).toBe('active');

    // What cloudflared's request would do: through the gateway to the container.
    const address = await gatewayAddress(f.a.docker, agentId, f.a.network);
    let last: unknown;
    const first = await waitFor(
      async () => {
        const answer = await throughGateway(address, hostname).catch((error: Error) => error.message);
        last = answer;
        return typeof answer !== 'string' && answer.status === 200 ? answer : undefined;
      },
      { description: 'the gateway to route the hostname (its table pushed)', timeoutMs: CONVERGE_TIMEOUT_MS },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; the gateway's last answer: ${JSON.stringify(last)}`);
    });
    // The web image answers with the container's hostname: its id's first 12 characters.
    expect(first.body.trim()).toBe(app.id.slice(0, 12));
    const before = hostnameState(f, hostname);

    // Idle for 10 s: the agent stops it, and reports it sleeping, not stopped.
    const asleep = await waitFor(
      async () => {
        const [route] = await routesOf(f, hostname);
        return route?.wakeState === 'sleeping' ? route : undefined;
      },
      { description: 'the route to sleep after its idle timeout', timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    expect((await app.container.inspect()).State.Running).toBe(false);
    expect(asleep.status).toBe('active');
    expect(asleep.deleteAfter).toBeNull();
    // Reconciles that end after the grace period would have run out: a sleeping container's route
    // never enters it, so nothing at Cloudflare changes, byte for byte.
    const graceOver = Date.now() + GRACE_SECONDS * 1000;
    await waitFor(
      async () => {
        await f.admin.reconcile();
        const last = (await f.admin.overview()).lastReconcile;
        return last !== null && Date.parse(last.at) > graceOver;
      },
      { description: 'a full reconcile after the grace period', timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    const [still] = await routesOf(f, hostname);
    expect(still?.status).toBe('active');
    expect(still?.wakeState).toBe('sleeping');
    expect(hostnameState(f, hostname)).toBe(before);

    // A hundred API requests at once: each waits for the wake and gets the answer; one start.
    const since = Math.floor(Date.now() / 1000) - 1;
    const answers = await Promise.all(Array.from({ length: 100 }, () => throughGateway(address, hostname)));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.body.trim()))).toEqual(new Set([app.id.slice(0, 12)]));
    expect(await startEvents(f.a.docker, app.name, since, Math.ceil(Date.now() / 1000) + 1)).toBe(1);
    await waitFor(async () => (await routesOf(f, hostname))[0]?.wakeState === 'running', {
      description: 'the route running again',
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });
    expect(hostnameState(f, hostname)).toBe(before);
  });

  it("starts a sleeping container's dependencies first when a request wakes it through the host's gateway", async () => {
    const f = fleet();
    const agentId = await f.a.agentId();
    const hostname = uniqueHostname('deps');
    // Neither has ever run: the dependency is a plain container, the app a wake route (sleeping).
    const db = await f.a.runContainer({ labels: {}, start: false });
    const app = await f.a.runContainer({
      labels: publishLabels(hostname, { 'tunnelfleet.wake': 'true', 'tunnelfleet.depends_on': db.name }),
      start: false,
    });
    expect((await waitPublished(f, f.a, hostname)).rule.service).toBe(gatewayServiceUrl(agentId));
    await waitFor(async () => (await routesOf(f, hostname))[0]?.wakeState === 'sleeping', {
      description: 'the never-started wake route reported sleeping',
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });

    const address = await gatewayAddress(f.a.docker, agentId, f.a.network);
    const answer = await waitFor(
      async () => {
        const reply = await throughGateway(address, hostname).catch(() => undefined);
        return reply?.status === 200 ? reply : undefined;
      },
      { description: 'the request to wake the app (its table pushed)', timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    expect(answer.body.trim()).toBe(app.id.slice(0, 12));
    const [dbInfo, appInfo] = await Promise.all([db.container.inspect(), app.container.inspect()]);
    expect(dbInfo.State.Running).toBe(true);
    // Its dependency was started, and ready (running for 1 s without a HEALTHCHECK), before it.
    expect(Date.parse(dbInfo.State.StartedAt)).toBeLessThan(Date.parse(appInfo.State.StartedAt));
  });

  it("publishes a container labelled for The Awakening Gateway (dag.*) through the host's gateway, as it is", async () => {
    const f = fleet();
    const agentId = await f.a.agentId();
    const hostname = uniqueHostname('dag');
    const app = await f.a.runContainer({
      labels: { 'dag.enabled': 'true', 'dag.host': hostname, 'dag.target_port': '80', 'dag.icon': 'web' },
    });
    const { rule } = await waitPublished(f, f.a, hostname);
    expect(rule.service).toBe(gatewayServiceUrl(agentId));
    const [route] = await routesOf(f, hostname);
    expect(route?.service).toBe(`http://${app.name}:80`);
    expect(route?.problems).toEqual([expect.objectContaining({ severity: 'warning', label: 'dag.icon' })]);
    const address = await gatewayAddress(f.a.docker, agentId, f.a.network);
    const answer = await waitFor(
      async () => {
        const reply = await throughGateway(address, hostname).catch(() => undefined);
        return reply?.status === 200 ? reply : undefined;
      },
      { description: 'the dag.* route through the gateway', timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    expect(answer.body.trim()).toBe(app.id.slice(0, 12));
  });

  it("routes by the labels' header match and applies their response filter, through the host's gateway", async () => {
    const f = fleet();
    const agentId = await f.a.agentId();
    const hostname = uniqueHostname('l7');
    const app = await f.a.runContainer({
      labels: publishLabels(hostname, {
        'tunnelfleet.match.header.X-Canary': '1',
        'tunnelfleet.filter.response_header.set.X-Served-By': 'tunnelfleet-gateway',
      }),
    });
    // Cloudflare's ingress cannot match a header: the rule sends the hostname to the gateway.
    const { rule } = await waitPublished(f, f.a, hostname);
    expect(rule.service).toBe(gatewayServiceUrl(agentId));
    const address = await gatewayAddress(f.a.docker, agentId, f.a.network);
    const matched = await waitFor(
      async () => {
        const reply = await throughGateway(address, hostname, { 'x-canary': '1' }).catch(() => undefined);
        return reply?.status === 200 ? reply : undefined;
      },
      { description: 'the header-matched route through the gateway', timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    expect(matched.body.trim()).toBe(app.id.slice(0, 12));
    expect(matched.headers['x-served-by']).toBe('tunnelfleet-gateway');
    // Without the header no route matches: the gateway answers 404 rather than the container.
    expect((await throughGateway(address, hostname, { 'x-canary': '2' })).status).toBe(404);
    expect((await throughGateway(address, hostname)).status).toBe(404);
  });

  it('leaves a wake route of a host without GATEWAY_IMAGE unpublished, and says why', async () => {
    const f = fleet();
    const agentId = await f.b.agentId();
    const hostname = uniqueHostname('nogw');
    const plain = uniqueHostname('nogw-plain');
    await f.b.runContainer({ labels: publishLabels(hostname, { 'tunnelfleet.wake': 'true' }) });
    await f.b.runContainer({ labels: publishLabels(plain) });
    // The plain route of the same host, synced with it, is published: the wake route is not.
    await waitPublished(f, f.b, plain);
    const route = await waitRouteStatus(f, hostname, agentId, 'error');
    expect(route.statusMessage).toContain("waiting for the host's gateway (set GATEWAY_IMAGE)");
    const view = cloudView(f);
    expect(view.records.filter((record) => record.name === hostname)).toEqual([]);
    expect(rulesFor(view, hostname)).toEqual([]);
  });

  it("never names another host's gateway: an agent reporting it is refused, and the victim's state is unchanged", async () => {
    const f = fleet();
    const victimAgent = await f.a.agentId();
    const victim = uniqueHostname('victim', 'example.org');
    await f.a.runContainer({ labels: publishLabels(victim, { 'tunnelfleet.wake': 'true' }) });
    await waitPublished(f, f.a, victim);
    const before = hostnameState(f, victim);

    const own = uniqueHostname('evil', 'example.org');
    const barrier = uniqueHostname('barrier', 'example.org');
    const c = await attacker(f, 'attacker-gw', [victim, own, barrier]);
    // Its "gateway" is host A's: ready, at A's address.
    const beat = await c.heartbeat({
      gateway: { state: 'running', ready: true, serviceUrl: gatewayServiceUrl(victimAgent), image: 'evil:1' },
    });
    expect(beat.status).toBe(200);
    // Take A's hostname through the attacker's gateway, and route its own through A's gateway.
    await reportWithBarrier(f, c, barrier, [
      reportedContainer(
        'e1',
        'steal',
        publishLabels(victim, { 'tunnelfleet.wake': 'true', 'tunnelfleet.service': 'http://10.0.0.7:80' }),
      ),
      reportedContainer(
        'e2',
        'borrow',
        publishLabels(own, { 'tunnelfleet.wake': 'true', 'tunnelfleet.service': 'http://10.0.0.5:80' }),
      ),
    ]);

    const [stolen] = (await routesOf(f, victim)).filter((r) => r.agentId === c.agentId);
    expect(stolen?.status).toBe('conflict');
    const borrowed = await waitRouteStatus(f, own, c.agentId, 'error');
    expect(borrowed.statusMessage).toContain(`not ${gatewayServiceUrl(c.agentId)}`);
    const view = cloudView(f);
    expect(view.records.filter((record) => record.name === own)).toEqual([]);
    expect(rulesFor(view, own)).toEqual([]);
    // Host A's gateway is named in host A's tunnel only.
    const victimTunnel = await tunnelIdOf(f, f.a);
    const naming = [...view.ingress].filter(([, rules]) =>
      rules.some((rule) => rule.service === gatewayServiceUrl(victimAgent)),
    );
    expect(naming.map(([tunnelId]) => tunnelId)).toEqual([victimTunnel]);
    // What the master told the attacker's gateway to route: its own accepted route only.
    const tables = await sentGatewayTables(c);
    expect(tables.length).toBeGreaterThan(0);
    for (const hostnames of tables) expect(hostnames.every((hostname) => hostname === own)).toBe(true);
    expect(hostnameState(f, victim)).toBe(before);
  });
});
