import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { uniqueName } from '../harness/unique-name.js';
import { waitFor } from '../harness/wait-for.js';
import type { Fleet, FleetHost } from '../system/fleet.js';
import { reportedContainer } from '../system/protocol-agent.js';
import {
  attacker,
  CONVERGE_TIMEOUT_MS,
  cloudView,
  routesOf,
  rulesFor,
  tunnelIdOf,
  uniqueHostname,
  useFleet,
  victimState,
  waitForBarrier,
  waitUnpublished,
} from './support.js';

const fleet = useFleet({ secondEngine: 'docker24' });

const SHARED_LABEL = 'tunnelfleet.shared-tunnel';

/** The host's running connectors of the shared tunnel (its own cloudflared is not one). */
async function connectorsOf(host: FleetHost, tunnelId: string): Promise<Docker.ContainerInfo[]> {
  return (await host.cloudflared()).filter(
    (c) => c.State === 'running' && c.Labels[SHARED_LABEL] === tunnelId.toLowerCase(),
  );
}

/** The connector id a stand-in cloudflared announces when it starts (EDGE-PROTOCOL.md). */
async function connectorIdOf(host: FleetHost, containerId: string): Promise<string> {
  const logs = (await host.docker.getContainer(containerId).logs({ stdout: true, stderr: true })).toString();
  const id = /connectorID=([0-9a-f-]{36})/.exec(logs)?.[1];
  expect(id, `the connector id in ${host.name}'s connector log`).toBeDefined();
  return id!;
}

/** Runs `cmd` inside the host's connector: what it sees is what its host's network gives it. */
async function execInConnector(host: FleetHost, containerId: string, cmd: string[]): Promise<string> {
  const exec = await host.docker.getContainer(containerId).exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
    Tty: true,
  });
  const stream = await exec.start({ hijack: true, stdin: false, Tty: true });
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text.trim();
}

/** The addresses the connector's resolver gives for `name` (Docker's DNS on its host's network). */
async function resolvedBy(host: FleetHost, containerId: string, name: string): Promise<string[]> {
  const answer = await execInConnector(host, containerId, ['nslookup', name]);
  return [...answer.matchAll(/^Address:\s*([0-9.]+)\s*$/gm)].map((m) => m[1]!);
}

async function waitConnectors(f: Fleet, tunnelId: string, count: number, why: string) {
  return waitFor(
    () => {
      const live = f.emulator.tunnelConnections(tunnelId);
      return live.length === count ? live : undefined;
    },
    {
      description: `${count} connector(s) of the shared tunnel at the edge (${why})`,
      timeoutMs: CONVERGE_TIMEOUT_MS,
    },
  );
}

describe('a shared tunnel on two hosts', { timeout: 300_000 }, () => {
  it('serves one hostname from replicas on both hosts, and keeps a connected connector when one host dies', async () => {
    const f = fleet();
    const { a, b, admin, emulator } = f;
    const [agentA, agentB] = [await a.agentId(), await b.agentId()];
    await Promise.all([tunnelIdOf(f, a), tunnelIdOf(f, b)]);
    const name = uniqueName('pool')
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 60);

    const shared = await admin.createSharedTunnel(name, [agentA, agentB]);
    const tunnelId = shared.tunnelId;
    // Each member runs a connector for it beside its own cloudflared.
    const [connectorA] = await waitFor(
      async () => {
        const found = await connectorsOf(a, tunnelId);
        return found.length === 1 ? found : undefined;
      },
      { description: "host A's shared connector", timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    const [connectorB] = await waitFor(
      async () => {
        const found = await connectorsOf(b, tunnelId);
        return found.length === 1 ? found : undefined;
      },
      { description: "host B's shared connector", timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    await waitConnectors(f, tunnelId, 2, 'both members joined');
    // The shared tunnel's token joins the secrets no log may hold (scanned at the end).
    await f.collectSecrets();
    // Each member's heartbeat reports its connector connected.
    await waitFor(
      async () =>
        (await admin.sharedTunnel(name)).members.every((member) => member.connector?.ready === true),
      { description: "both members' connectors reported connected", timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    expect((await a.cloudflared()).filter((c) => c.State === 'running')).toHaveLength(2);

    // The same service on both hosts, under one container name each host's network resolves.
    const hostname = uniqueHostname('shared');
    const replicaName = uniqueName('tf-e2e-shared-web');
    const labels = {
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': hostname,
      'tunnelfleet.service': `http://${replicaName}:80`,
      'tunnelfleet.tunnel': name,
    };
    const replicaA = await a.runContainer({ name: replicaName, labels });
    const replicaB = await b.runContainer({ name: replicaName, labels });
    const published = await waitFor(
      () => {
        const view = cloudView(f);
        const records = view.records.filter((r) => r.name === hostname);
        const rules = rulesFor(view, hostname);
        return records.length === 1 &&
          records[0]!.content === `${tunnelId}.cfargotunnel.com` &&
          rules.length === 1 &&
          rules[0]!.tunnelId === tunnelId
          ? { records, rules }
          : undefined;
      },
      { description: `${hostname} published on the shared tunnel`, timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    await waitFor(
      async () => {
        const statuses = (await routesOf(f, hostname)).map((r) => `${r.agentId}:${r.status}`).sort();
        return statuses.join() === [`${agentA}:active`, `${agentB}:active`].sort().join();
      },
      { description: 'both replicas active', timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    // The one rule's service names, on each host, that host's own replica: each member's connector
    // resolves it on its host's network.
    for (const [host, connector, replica] of [
      [a, connectorA!, replicaA],
      [b, connectorB!, replicaB],
    ] as const) {
      const local = (await replica.container.inspect()).NetworkSettings.Networks[host.network]?.IPAddress;
      expect(local, `${host.name}'s replica address`).toBeTruthy();
      expect(await resolvedBy(host, connector.Id, replicaName)).toEqual([local]);
    }
    // And traffic flows to it (on the main engine: the second one runs without iptables, and the
    // host's FORWARD policy drops bridged traffic between its containers).
    const expected = (await replicaA.container.inspect()).Config.Hostname;
    await waitFor(
      async () =>
        // busybox 1.35 wget segfaults with -T: bounded by timeout(1) instead, as the stand-in does.
        (await execInConnector(a, connectorA!.Id, [
          'timeout',
          '5',
          'wget',
          '-q',
          '-O',
          '-',
          `http://${replicaName}/`,
        ])) === expected,
      {
        description: `host A's connector reaching host A's replica as ${replicaName}`,
        timeoutMs: CONVERGE_TIMEOUT_MS,
      },
    );

    // A host that is no member names the shared tunnel: a bypass on a path of the shared hostname,
    // and a hostname of its own. Nothing changes at Cloudflare, byte for byte.
    const before = victimState(f, hostname, tunnelId);
    const side = uniqueHostname('shared-side');
    const barrier = uniqueHostname('shared-barrier');
    const outsider = await attacker(f, 'shared-outsider', [hostname, side, barrier]);
    const answer = await outsider.report([
      reportedContainer('e1', 'bypass', {
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': hostname,
        'tunnelfleet.path': '^/admin',
        'tunnelfleet.access.policy': 'bypass',
        'tunnelfleet.service': 'http://10.0.0.7:80',
        'tunnelfleet.tunnel': name,
      }),
      // Labelgate's named tunnel, the same way.
      reportedContainer('e2', 'side', {
        'labelgate.tunnel.side.hostname': side,
        'labelgate.tunnel.side.service': 'http://10.0.0.7:80',
        'labelgate.tunnel.side.tunnel': name,
      }),
      reportedContainer('e3', 'honest', {
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': barrier,
        'tunnelfleet.service': 'http://10.0.0.6:80',
      }),
    ]);
    expect(answer.status).toBe(200);
    await waitForBarrier(f, barrier);
    for (const refused of [hostname, side]) {
      const route = (await routesOf(f, refused)).find((r) => r.agentId === outsider.agentId);
      expect(route?.status, refused).toBe('invalid');
      expect(route?.statusMessage).toContain(
        `tunnel "${name}" is a shared tunnel this agent is not a member of`,
      );
    }
    expect(cloudView(f).records.filter((r) => r.name === side)).toEqual([]);
    expect(victimState(f, hostname, tunnelId)).toBe(before);

    // Host A dies: its agent, then its shared connector.
    const idB = await connectorIdOf(b, connectorB!.Id);
    await a.agent.kill9();
    await a.docker.getContainer(connectorA!.Id).kill();
    const [survivor] = await waitConnectors(f, tunnelId, 1, "host A's connector gone");
    expect(survivor!.connectorId).toBe(idB);
    const view = cloudView(f);
    expect({
      records: view.records.filter((r) => r.name === hostname),
      rules: rulesFor(view, hostname),
    }).toEqual(published);

    // Host A comes back: its connector returns from its cache.
    await a.agent.start();
    await waitConnectors(f, tunnelId, 2, 'host A back');

    // Removing a member stops its connector; deleting the tunnel stops the rest and withdraws all.
    await admin.removeSharedTunnelMember(name, agentB);
    await waitFor(async () => (await connectorsOf(b, tunnelId)).length === 0, {
      description: "host B's shared connector stopped",
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });
    expect((await b.cloudflared()).filter((c) => c.State === 'running')).toHaveLength(1);
    const deleted = await admin.deleteSharedTunnel(name);
    expect(deleted.stoppedMembers).toEqual([agentA]);
    await waitFor(async () => (await connectorsOf(a, tunnelId)).length === 0, {
      description: "host A's shared connector stopped",
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });
    await waitUnpublished(f, hostname);
    expect(emulator.tunnels().find((t) => t.id === tunnelId)?.deleted_at).toBeTruthy();
    expect(await f.leakedSecrets()).toEqual([]);
  });
});
