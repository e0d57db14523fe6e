import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_ROUTES, type Container } from '@tunnelfleet/common';
import { freePort, gatewayRouteTraffic, startWebhookReceiver, waitFor } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  type MasterFixture,
  registerBody,
  startMasterFixture,
} from '../../test/master-test-fixture.js';

const masterDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cli = join(masterDir, 'dist/cli/tunnelfleet.js');
const tsc = join(masterDir, '../node_modules/typescript/bin/tsc');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built CLI as a real process; the environment holds only what the test gives it. */
function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

let fx: MasterFixture;
let env: Record<string, string>;

beforeAll(async () => {
  execFileSync(process.execPath, [tsc, '-b', masterDir], { stdio: 'inherit' });
  fx = await startMasterFixture();
  fx.emulator.createZone('example.com', fx.accountId);
  env = { TUNNELFLEET_URL: fx.master.url, TUNNELFLEET_ADMIN_TOKEN: ADMIN_TOKEN };
});

afterAll(async () => {
  await fx?.close();
});

function container(name: string, labels: Record<string, string>): Container {
  return {
    id: randomBytes(32).toString('hex'),
    name,
    labels,
    state: 'running',
    networks: {},
    exposedPorts: [{ port: 80, protocol: 'tcp' }],
  };
}

describe('tunnelfleet CLI', () => {
  it('prints its usage: exit 0 when asked, 2 for no or unknown commands and bad options', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('keys create <name>');
    expect(help.stdout).toContain('labels check');

    expect((await run([])).code).toBe(2);
    const unknown = await run(['keys', 'rotate'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "keys rotate"');
    const badOption = await run(['agents', 'list', '--allow', 'x'], env);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain('agents list has no option --allow');
    const arity = await run(['keys', 'revoke'], env);
    expect(arity.code).toBe(2);
    expect(arity.stderr).toContain('keys revoke takes 1 argument(s)');
  });

  it('exit 2 without a token, 3 when the master is unreachable or refuses the token', async () => {
    const noToken = await run(['agents', 'list'], { TUNNELFLEET_URL: fx.master.url });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('no admin token');

    const closedPort = await freePort();
    const unreachable = await run(['agents', 'list', '--url', `http://127.0.0.1:${closedPort}`], env);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain(`cannot reach the master at http://127.0.0.1:${closedPort}`);

    const refused = await run(['agents', 'list', '--token', `tfa_wrong_${'b'.repeat(40)}`], env);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^tunnelfleet: .+/);
    expect(refused.stderr).not.toContain('tfa_wrong');
  });

  it('keys create shows the key once; list, revoke and errors the API reports (exit 1)', async () => {
    const created = await run(['keys', 'create', 'cli-host', '--allow', '*.example.com', '--json'], env);
    expect(created.code).toBe(0);
    const body = JSON.parse(created.stdout);
    expect(body.key).toMatch(/^tfk_[0-9a-f]{16}_/);
    expect(body.record).toMatchObject({
      name: 'cli-host',
      hostnameAllowlist: ['*.example.com'],
      allowAnyHostname: false,
      autoApprove: true,
    });

    const unscoped = await run(['keys', 'create', 'cli-unscoped'], env);
    expect(unscoped.code).toBe(1);
    expect(unscoped.stderr).toContain('--allow-any');

    const readable = await run(['keys', 'create', 'cli-host-2', '--allow-any', '--manual-approval'], env);
    expect(readable.code).toBe(0);
    expect(readable.stdout).toMatch(/^Created key [0-9a-f]{16} \(cli-host-2\)/);
    expect(readable.stdout).toContain('any hostname of a managed zone, but no wildcard hostname');
    expect(readable.stdout).toMatch(/^TUNNELFLEET_API_KEY=tfk_[0-9a-f]{16}_\S+$/m);

    const list = await run(['keys', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+STATUS\s+AGENT\s+APPROVAL\s+ALLOWLIST/);
    expect(list.stdout).toMatch(
      new RegExp(`^${body.record.id}\\s+cli-host\\s+active\\s+-\\s+auto\\s+\\*\\.example\\.com`, 'm'),
    );
    expect(list.stdout).toMatch(/cli-host-2\s+active\s+-\s+manual\s+any \(no wildcards\)/);
    expect(list.stdout).not.toContain('tfk_');

    const revoked = await run(['keys', 'revoke', body.record.id], env);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked key ${body.record.id} (cli-host).\n` });
    const listed = JSON.parse((await run(['keys', 'list', '--json'], env)).stdout);
    expect(listed.keys.find((k: { id: string }) => k.id === body.record.id).revokedAt).not.toBeNull();

    const missing = await run(['keys', 'revoke', 'ffffffffffffffff'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^tunnelfleet: .*ffffffffffffffff/);
    const invalid = await run(['keys', 'create', 'x', '--allow', 'not a pattern'], env);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('hostnameAllowlist');
  });

  it('keys create opens service kinds or narrows to the own container, and says so', async () => {
    const opened = await run(
      [
        'keys',
        'create',
        'cli-svc',
        '--allow-any',
        '--allow-service',
        'loopback',
        '--allow-service',
        'unix',
        '--container-only',
      ],
      env,
    );
    expect(opened.code).toBe(0);
    expect(opened.stdout).toMatch(/^Services: own container \+loopback,unix /m);
    const plain = JSON.parse(
      (await run(['keys', 'create', 'cli-svc-default', '--allow-any', '--json'], env)).stdout,
    );
    expect(plain.record.servicePolicy).toEqual({ allow: [], containerOnly: false });

    const list = await run(['keys', 'list'], env);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+STATUS\s+AGENT\s+APPROVAL\s+ALLOWLIST\s+SERVICES/);
    expect(list.stdout).toMatch(
      /cli-svc\s+active\s+-\s+auto\s+any \(no wildcards\)\s+own container \+loopback,unix/,
    );
    expect(list.stdout).toMatch(/cli-svc-default\s+active\s+-\s+auto\s+any \(no wildcards\)\s+default/);

    const unknown = await run(['keys', 'create', 'x', '--allow-any', '--allow-service', 'everything'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('servicePolicy.allow');
  });

  it('agents approve lets a pending agent in', async () => {
    const pending = await fx.enrollAgent({ name: 'cli-pending', autoApprove: false });
    expect(pending.status).toBe('pending');
    const approved = await run(['agents', 'approve', pending.agentId], env);
    expect(approved).toMatchObject({ code: 0, stdout: `Approved agent ${pending.agentId} (cli-pending).\n` });
    const shown = await run(['agents', 'show', pending.agentId], env);
    expect(shown.stdout).toMatch(/^Status\s+approved$/m);
  });

  it('cloudflared rollout start, show, list and abort', async () => {
    const agent = await fx.enrollAgent({ name: 'cli-rollout' });
    const started = await run(
      [
        'cloudflared',
        'rollout',
        'start',
        '--image',
        'example/cloudflared:canary',
        '--canary',
        agent.agentId,
        '--wave-timeout',
        '600',
      ],
      env,
    );
    expect(started.code).toBe(0);
    const id = /^Rollout\s+(ro_[0-9a-f]{16})$/m.exec(started.stdout)?.[1];
    expect(id).toBeDefined();
    expect(started.stdout).toMatch(/^Status\s+running/m);
    expect(started.stdout).toMatch(new RegExp(`^${agent.agentId}\\s+canary\\s+(pending|upgrading)`, 'm'));

    const shown = await run(['cloudflared', 'rollout', 'show'], env);
    expect(shown.stdout).toContain(`Rollout   ${id}`);
    const listed = await run(['cloudflared', 'rollout', 'list'], env);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+example/cloudflared:canary\\s+running`, 'm'));

    const aborted = await run(['cloudflared', 'rollout', 'abort', id!], env);
    expect(aborted.code).toBe(0);
    expect(aborted.stdout).toMatch(/^Status\s+halted$/m);
    expect(aborted.stdout).toMatch(/^Halted\s+aborted by admin$/m);
    const again = await run(['cloudflared', 'rollout', 'abort', id!], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('halted');
    const noImage = await run(['cloudflared', 'rollout', 'start'], env);
    expect(noImage.code).toBe(2);
  });

  it('cloudflared set for the fleet and one host; agents list and show which cloudflared runs', async () => {
    const agent = await fx.enrollAgent({ name: 'cli-cloudflared' });
    const fleet = await run(
      [
        'cloudflared',
        'set',
        '--image',
        'cloudflare/cloudflared:2024.1.0',
        '--at-once',
        '--protocol',
        'http2',
        '--retries',
        '3',
      ],
      env,
    );
    expect(fleet.code).toBe(0);
    expect(fleet.stdout).toContain('Saved for the fleet:');
    expect(fleet.stdout).toMatch(/^Image\s+cloudflare\/cloudflared:2024\.1\.0$/m);
    expect(fleet.stdout).toMatch(/^Settings\s+protocol=http2 retries=3$/m);
    expect(fleet.stdout).toContain(agent.agentId);
    const shownFleet = await run(['cloudflared', 'show'], env);
    expect(shownFleet.stdout).toMatch(/^Settings\s+protocol=http2 retries=3$/m);

    const host = await run(
      [
        'cloudflared',
        'set',
        '--agent',
        agent.agentId,
        '--protocol',
        'quic',
        '--post-quantum',
        '--grace-period',
        '45',
      ],
      env,
    );
    expect(host.code).toBe(0);
    expect(host.stdout).toContain(`Saved for agent ${agent.agentId}:`);
    expect(host.stdout).toMatch(/^Settings\s+protocol=quic gracePeriodSeconds=45 postQuantum=true$/m);
    expect(host.stdout).toContain(`Sent to 1 running agent(s): ${agent.agentId}`);

    const refused = await run(['cloudflared', 'set', '--protocol', 'tcp'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('settings.protocol');
    const notANumber = await run(['cloudflared', 'set', '--retries', 'many'], env);
    expect(notANumber).toMatchObject({ code: 2 });
    expect(notANumber.stderr).toContain('--retries takes a whole number');

    const beat = await fx.request('POST', AGENT_ROUTES.heartbeat, {
      token: agent.key,
      body: {
        agentId: agent.agentId,
        uptimeSeconds: 5,
        cloudflared: {
          state: 'running',
          ready: true,
          tunnelId: null,
          containerId: null,
          image: 'cloudflare/cloudflared:2024.2.0',
          version: '2024.2.0',
        },
        lastAppliedCommandVersion: null,
        dockerReachable: true,
      },
    });
    expect(beat.status).toBe(200);
    const listed = await run(['agents', 'list'], env);
    expect(listed.stdout).toMatch(/\bCLOUDFLARED$/m);
    expect(listed.stdout).toMatch(
      new RegExp(`^${agent.agentId}\\s+cli-cloudflared\\s.*\\s2024\\.2\\.0$`, 'm'),
    );
    const shown = await run(['agents', 'show', agent.agentId], env);
    expect(shown.stdout).toMatch(/^cloudflared runs\s+2024\.2\.0 \(cloudflare\/cloudflared:2024\.2\.0\)$/m);
    expect(shown.stdout).toMatch(
      /^cloudflared wanted\s+cloudflare\/cloudflared:2024\.1\.0, protocol=quic retries=3 gracePeriodSeconds=45 postQuantum=true \(this host's override\)$/m,
    );

    // Back to the defaults, so that the other tests' agents start as before.
    expect((await run(['cloudflared', 'set'], env)).code).toBe(0);
  });

  it('tunnels create, add-member, show, list, remove-member and delete a shared tunnel', async () => {
    const first = await fx.enrollAgent({ name: 'cli-pool-1' });
    const second = await fx.enrollAgent({ name: 'cli-pool-2' });
    const created = await run(['tunnels', 'create', 'cli-pool', '--member', first.agentId], env);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('Created shared tunnel cli-pool.');
    expect(created.stdout).toContain('Members    1 of at most 25');
    const [live] = await fx.liveTunnels('cli-pool');
    expect(created.stdout).toContain(`Tunnel id  ${live!.id}`);

    const added = await run(['tunnels', 'add-member', 'cli-pool', second.agentId], env);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('cli-pool-2');
    const listed = await run(['tunnels', 'list'], env);
    expect(listed.stdout).toMatch(/^NAME\s+TUNNEL ID\s+MEMBERS\s+ROUTES$/m);
    expect(listed.stdout).toContain(`cli-pool  ${live!.id}`);
    const shown = JSON.parse((await run(['tunnels', 'show', 'cli-pool', '--json'], env)).stdout);
    expect(shown.tunnel.members.map((m: { agentId: string }) => m.agentId).sort()).toEqual(
      [first.agentId, second.agentId].sort(),
    );

    const rotated = await run(['tunnels', 'rotate', 'cli-pool'], env);
    expect(rotated).toMatchObject({
      code: 0,
      stdout: 'New secret for shared tunnel cli-pool; sent to its members.\n',
    });

    const removed = await run(['tunnels', 'remove-member', 'cli-pool', first.agentId], env);
    expect(removed.code).toBe(0);
    expect(removed.stdout).not.toContain('cli-pool-1');
    const again = await run(['tunnels', 'remove-member', 'cli-pool', first.agentId], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is not a member of shared tunnel cli-pool');

    const deleted = await run(['tunnels', 'delete', 'cli-pool'], env);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain(`Connectors stopped on: ${second.agentId}.`);
    expect(await fx.liveTunnels('cli-pool')).toEqual([]);
    expect((await run(['tunnels', 'show', 'cli-pool'], env)).code).toBe(1);
  });

  it('agents list/show/revoke, routes list with problems, conflicts and reconcile', async () => {
    const agent = await fx.enrollAgent({ name: 'cli-agent' });
    const containers = [
      container('web', {
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': 'web.example.com',
        'tunnelfleet.service': 'http://web:80',
      }),
      container('typo', { 'tunnelfleet.enable': 'true', 'tunnelfleet.hostnme': 'typo.example.com' }),
    ];
    const report = await fx.reportSnapshot(agent, 1, containers);
    expect(report.status).toBe(200);

    const agents = await run(['agents', 'list'], env);
    expect(agents.code).toBe(0);
    expect(agents.stdout).toMatch(
      new RegExp(`^${agent.agentId}\\s+cli-agent\\s+approved\\s+running\\s+yes`, 'm'),
    );

    const shown = await run(['agents', 'show', agent.agentId], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^Status\s+approved$/m);
    expect(shown.stdout).toMatch(/^Tunnel\s+tunnelfleet-\S+ \([0-9a-f-]{36}\)$/m);
    expect(shown.stdout).toMatch(/^web\s+running/m);

    const paused = await run(['agents', 'pause', agent.agentId], env);
    expect(paused).toMatchObject({ code: 0, stdout: `Paused agent ${agent.agentId} (cli-agent).\n` });
    expect((await run(['agents', 'show', agent.agentId], env)).stdout).toMatch(
      /^Tunnel status\s+paused since /m,
    );
    const resumed = await run(['agents', 'resume', agent.agentId], env);
    expect(resumed).toMatchObject({ code: 0, stdout: `Resumed agent ${agent.agentId} (cli-agent).\n` });
    const rotated = await run(['agents', 'rotate', agent.agentId], env);
    expect(rotated).toMatchObject({
      code: 0,
      stdout: `Rotated the tunnel secret of agent ${agent.agentId} (cli-agent).\n`,
    });
    const rotatedAll = JSON.parse((await run(['agents', 'rotate', '--all', '--json'], env)).stdout);
    expect(rotatedAll.results).toContainEqual({ agentId: agent.agentId, rotated: true });
    const both = await run(['agents', 'rotate', agent.agentId, '--all'], env);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('an agent id or --all');

    const routes = await waitFor(
      async () => {
        const listed = await run(['routes', 'list', '--agent', agent.agentId], env);
        const active = /^web\.example\.com\s+http:\/\/web:80\s+active\s+cli-agent\s+web/m;
        return active.test(listed.stdout) ? listed : undefined;
      },
      { description: 'the route to be active in routes list', timeoutMs: 15_000 },
    );
    expect(routes.code).toBe(0);
    // The exact text docs/cli.md shows.
    expect(routes.stdout).toBe(
      [
        'HOSTNAME         SERVICE        STATUS   AGENT      CONTAINER  TUNNEL',
        '-                -              invalid  cli-agent  typo       (agent)',
        'web.example.com  http://web:80  active   cli-agent  web        (agent)',
        '',
        'Problems:',
        '  typo/default: error: tunnelfleet.hostname: is not set; every route needs a hostname',
        '  typo/default: warning: tunnelfleet.hostnme: is not a known key; ignored (did you mean "tunnelfleet.hostname"?)',
        '',
      ].join('\n'),
    );
    const json = JSON.parse((await run(['routes', 'list', '--json', '--status', 'active'], env)).stdout);
    expect(json.routes.map((r: { hostname: string }) => r.hostname)).toContain('web.example.com');
    const badStatus = await run(['routes', 'list', '--status', 'sleeping'], env);
    expect(badStatus.code).toBe(1);
    expect(badStatus.stderr).toContain('status');

    const conflicts = await run(['conflicts'], env);
    expect(conflicts).toMatchObject({ code: 0, stdout: 'No open conflicts.\n' });
    expect(JSON.parse((await run(['conflicts', '--all', '--json'], env)).stdout)).toEqual({ conflicts: [] });

    const reconcile = await run(['reconcile'], env);
    expect(reconcile.code).toBe(0);
    expect(reconcile.stdout).toMatch(/^Full reconcile queued/);

    const revoked = await run(['agents', 'revoke', agent.agentId], env);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked agent ${agent.agentId} (cli-agent).\n` });
    const after = await fx.request('POST', AGENT_ROUTES.register, { token: agent.key, body: registerBody() });
    expect(after.status).toBe(401);
    expect((await run(['agents', 'show', 'ag_missing'], env)).code).toBe(1);
  });

  it('routes list names the replica that serves a scaled service and the container it replaced', async () => {
    const agent = await fx.enrollAgent({ name: 'cli-compose' });
    const labels = {
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': 'shop.example.com',
      'tunnelfleet.service': 'http://web:80',
      'com.docker.compose.project': 'shop',
      'com.docker.compose.service': 'web',
    };
    const first = container('shop-web-1', labels);
    const second = container('shop-web-2', labels);
    // `docker compose up -d` after an edit: shop-web-1 recreated (a new id), shop-web-2 kept.
    const recreated = container('shop-web-1', { ...labels, 'tunnelfleet.service': 'http://web:8080' });
    for (const [sequence, containers] of [
      [1, [first, second]],
      [2, [recreated, second]],
    ] as const) {
      const report = await fx.reportSnapshot(agent, sequence, containers);
      expect(report.status).toBe(200);
    }

    const listed = await waitFor(
      async () => {
        const out = await run(['routes', 'list', '--agent', agent.agentId], env);
        return out.stdout.includes('http://web:8080') ? out : undefined;
      },
      { description: 'the recreated service in routes list', timeoutMs: 15_000 },
    );
    expect(listed.stdout).toMatch(
      /^shop\.example\.com\s+http:\/\/web:8080\s+active\s+cli-compose\s+shop-web-1 \(1 of 2 replicas\)/m,
    );
    expect(listed.stdout).toContain(
      `Replaced:\n  shop.example.com: served by shop-web-1 (${recreated.id.slice(0, 12)}), which replaced ` +
        `shop-web-1 (${first.id.slice(0, 12)}) at `,
    );
  });

  it('routes list shows the wake state of routes that wake on request; agents show the host gateway', async () => {
    const agent = await fx.enrollAgent({ name: 'cli-wake' });
    const labels = {
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': 'sleepy.example.com',
      'tunnelfleet.service': 'http://web:80',
      'tunnelfleet.wake': 'true',
    };
    const report = await fx.reportSnapshot(agent, 1, [{ ...container('sleepy', labels), state: 'sleeping' }]);
    expect(report.status).toBe(200);
    const listed = await waitFor(
      async () => {
        const out = await run(['routes', 'list', '--agent', agent.agentId], env);
        return out.stdout.includes("waiting for the host's gateway") ? out : undefined;
      },
      { description: 'the wake route waiting for a gateway in routes list', timeoutMs: 15_000 },
    );
    expect(listed.stdout).toMatch(/^HOSTNAME\s+SERVICE\s+STATUS\s+WAKE\s+AGENT/m);
    expect(listed.stdout).toMatch(
      /^sleepy\.example\.com\s+http:\/\/web:80\s+error\s+sleeping\s+cli-wake\s+sleepy/m,
    );
    expect(listed.stdout).toContain(
      "sleepy.example.com: waiting for the host's gateway (set GATEWAY_IMAGE); the route is not published until then",
    );
    const shown = await run(['agents', 'show', agent.agentId], env);
    expect(shown.stdout).toMatch(/^Gateway\s+none \(GATEWAY_IMAGE not set\)/m);
  });

  it('routes list shows the members of a gateway group', async () => {
    const agent = await fx.enrollAgent({ name: 'cli-group' });
    const labels = (name: string, weight: string) => ({
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': 'canary.example.com',
      'tunnelfleet.service': `http://${name}:80`,
      'tunnelfleet.weight': weight,
    });
    const report = await fx.reportSnapshot(agent, 1, [
      container('stable', labels('stable', '90')),
      container('canary', labels('canary', '10')),
    ]);
    expect(report.status).toBe(200);
    // Both members wait for the host's gateway (none here), each shown with its place in the group
    // (by claim, then route id: one report claims both at once, in no fixed order).
    const rows = [
      /^canary\.example\.com\s+http:\/\/stable:80\s+error\s+([12]) of 2\s+cli-group\s+stable/m,
      /^canary\.example\.com\s+http:\/\/canary:80\s+error\s+([12]) of 2\s+cli-group\s+canary/m,
    ];
    const listed = await waitFor(
      async () => {
        const out = await run(['routes', 'list', '--agent', agent.agentId], env);
        return rows.every((row) => row.test(out.stdout)) ? out : undefined;
      },
      { description: 'both members of the gateway group in routes list', timeoutMs: 15_000 },
    );
    expect(listed.stdout).toMatch(/^HOSTNAME\s+SERVICE\s+STATUS\s+GROUP\s+AGENT/m);
    expect(new Set(rows.map((row) => row.exec(listed.stdout)?.[1]))).toEqual(new Set(['1', '2']));
  });

  it("routes show shows a route's traffic through the host's gateway", async () => {
    const agent = await fx.enrollAgent({ name: 'cli-traffic' });
    const labels = {
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': 'counted.example.com',
      'tunnelfleet.service': 'http://web:80',
      'tunnelfleet.wake': 'true',
    };
    expect((await fx.reportSnapshot(agent, 1, [container('counted', labels)])).status).toBe(200);
    const routeId = await waitFor(
      async () => (await fx.admin('GET', `/routes?agentId=${agent.agentId}`)).body.routes[0]?.id as number,
      { description: 'the route at the master', timeoutMs: 15_000 },
    );
    const before = await run(['routes', 'show', String(routeId)], env);
    expect(before.stdout).toMatch(/^Traffic\s+- \(not through a gateway/m);
    // What the agent forwards from its gateway's /metrics with a heartbeat.
    const beat = await fx.heartbeat(agent, {
      gatewayTraffic: {
        startedAt: 1,
        routes: [gatewayRouteTraffic(`route-${routeId}`, { ok: 7, errors: 1, wakes: 1, idleStops: 1 })],
      },
    });
    expect(beat.status).toBe(200);
    const shown = await run(['routes', 'show', String(routeId)], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^Hostname\s+counted\.example\.com$/m);
    expect(shown.stdout).toMatch(
      /^Traffic\s+8 requests \(2xx 7, 5xx 1\), 3 ms on average; 1 wake \(1\.5 s on average\), 0 timed out; 1 idle stop \(as of /m,
    );
  });

  it('alerts add shows the secret once; list, test, deliveries, update and remove', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const added = await run(
        [
          'alerts',
          'add',
          'ops-chat',
          receiver.url('/hooks/secret-path'),
          '--format',
          'slack',
          '--event',
          'agent.offline',
        ],
        env,
      );
      expect(added.code).toBe(0);
      const secret = added.stdout.match(/^(tfw_\S+)$/m)?.[1];
      expect(secret).toBeDefined();
      const id = added.stdout.match(/Added receiver (ar_[0-9a-f]{16})/)?.[1];

      const listed = await run(['alerts', 'list'], env);
      expect(listed.stdout).toMatch(
        new RegExp(`${id}\\s+ops-chat\\s+slack\\s+http://127\\.0\\.0\\.1:\\d+/…\\s+agent\\.offline\\s+yes`),
      );
      expect(listed.stdout).not.toContain(secret);
      expect(listed.stdout).not.toContain('secret-path');

      expect((await run(['alerts', 'test', id!], env)).code).toBe(0);
      const [hook] = await receiver.waitForCount('/hooks/secret-path', 1);
      expect(JSON.parse(hook!.body).text).toBe('[info] Test alert for receiver ops-chat');
      const delivered = await waitFor(
        async () => {
          const answer = await run(['alerts', 'deliveries', '--receiver', id!, '--json'], env);
          const [delivery] = JSON.parse(answer.stdout).deliveries;
          return delivery?.status === 'delivered' ? delivery : undefined;
        },
        { description: 'the test delivery listed as delivered' },
      );
      expect(delivered).toMatchObject({ eventType: 'alert.test', attempts: 1 });

      const updated = await run(['alerts', 'update', id!, '--all-events', '--disable', '--json'], env);
      expect(JSON.parse(updated.stdout).receiver).toMatchObject({ events: [], enabled: false });
      expect((await run(['alerts', 'update', id!], env)).code).toBe(2);
      expect((await run(['alerts', 'remove', id!], env)).code).toBe(0);
      const gone = await run(['alerts', 'remove', id!], env);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toContain(`alert receiver ${id} not found`);
    } finally {
      await receiver.close();
    }
  });

  it('labels check is the label checker with its own exit codes', async () => {
    const sample = join(masterDir, '../examples/labels/compose-mixed.json');
    const checked = await run(['labels', 'check', sample]);
    expect(checked.code).toBe(1);
    expect(checked.stdout).toMatch(/^Container /m);
    expect(checked.stdout).toMatch(/\d+ containers?, \d+ routes?/);
    expect((await run(['labels', 'check', '/nonexistent/file'])).code).toBe(2);
  });

  it('routes list shows retained routes in their own section; routes delete-retained ends one', async () => {
    const agent = await fx.enrollAgent({ name: 'cli-keeper' });
    const kept = {
      ...container('wiki', {
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': 'kept.example.com',
        'tunnelfleet.service': 'http://wiki:80',
        'tunnelfleet.cleanup': 'false',
      }),
    };
    for (const [sequence, containers] of [
      [1, [kept]],
      [2, [{ ...kept, state: 'exited' as const }]],
    ] as const) {
      const report = await fx.reportSnapshot(agent, sequence, containers);
      expect(report.body.status).toBe('accepted');
    }
    // Past the grace period (600 s by default), a full reconcile makes it a retained route.
    fx.advanceClock(601_000);
    expect((await run(['reconcile'], env)).code).toBe(0);
    const listed = await waitFor(
      async () => {
        const answer = await run(['routes', 'list', '--agent', agent.agentId], env);
        return answer.stdout.includes('Retained') ? answer : undefined;
      },
      { description: 'the retained route in routes list', timeoutMs: 15_000 },
    );
    expect(listed.code).toBe(0);
    const id = /^(rr_[0-9a-f]{16})\s+kept\.example\.com\s+http:\/\/wiki:80\s+cli-keeper\s+wiki\s/m.exec(
      listed.stdout,
    )?.[1];
    expect(listed.stdout).toMatch(
      /^No routes\. .*\n\nRetained \(tunnelfleet\.cleanup=false, container gone;/,
    );
    expect(id).toBeDefined();
    const onlyRetained = JSON.parse(
      (await run(['routes', 'list', '--status', 'retained', '--json'], env)).stdout,
    );
    expect(onlyRetained.routes).toEqual([]);
    expect(onlyRetained.retained.map((r: { id: string }) => r.id)).toEqual([id]);

    const deleted = await run(['routes', 'delete-retained', id!], env);
    expect(deleted).toMatchObject({
      code: 0,
      stdout: `Deleted retained route ${id}; Cloudflare follows within seconds.\n`,
    });
    expect((await run(['routes', 'list', '--agent', agent.agentId], env)).stdout).not.toContain('Retained');
    const missing = await run(['routes', 'delete-retained', id!], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`retained route ${id} not found`);
  });

  it('routes public lists the hostnames served without Access and says whether they are marked public', async () => {
    const agent = await fx.enrollAgent({ name: 'cli-public' });
    const web = { 'tunnelfleet.enable': 'true', 'tunnelfleet.service': 'http://site:80' };
    const report = await fx.reportSnapshot(agent, 1, [
      container('site', { ...web, 'tunnelfleet.hostname': 'site.example.com' }),
      container('blog', {
        ...web,
        'tunnelfleet.hostname': 'blog.example.com',
        'tunnelfleet.access.public': 'true',
      }),
      container('staff', {
        ...web,
        'tunnelfleet.hostname': 'staff.example.com',
        'tunnelfleet.access.emails': 'a@example.com',
      }),
    ]);
    expect(report.status).toBe(200);

    const listed = await waitFor(
      async () => {
        const answer = await run(['routes', 'public'], env);
        return /^site\.example\.com/m.test(answer.stdout) && /^blog\.example\.com/m.test(answer.stdout)
          ? answer
          : undefined;
      },
      { description: 'both public routes in routes public', timeoutMs: 15_000 },
    );
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      /^blog\.example\.com\s+http:\/\/site:80\s+active\s+cli-public\s+blog\s+marked public$/m,
    );
    expect(listed.stdout).toMatch(
      /^site\.example\.com\s+http:\/\/site:80\s+active\s+cli-public\s+site\s+no access\.\* labels$/m,
    );
    expect(listed.stdout).not.toContain('staff.example.com');
    expect(listed.stdout).toMatch(
      /\nREQUIRE_ACCESS is off: a route without access\.\* labels is published without Access\.\n$/,
    );
    const json = JSON.parse((await run(['routes', 'public', '--json'], env)).stdout);
    expect(json.requireAccess).toBe(false);
    expect(json.routes.map((r: { hostname: string }) => r.hostname)).not.toContain('staff.example.com');
  });

  it("access-policies create-dockflare-defaults defines DockFlare's groups, which the route's message names", async () => {
    const agent = await fx.enrollAgent({ name: 'cli-dockflare' });
    const report = await fx.reportSnapshot(agent, 1, [
      container('intranet', {
        'dockflare.enable': 'true',
        'dockflare.hostname': 'intranet.example.com',
        'dockflare.service': 'http://intranet:80',
        'dockflare.access.policy': 'authenticate',
      }),
    ]);
    expect(report.status).toBe(200);
    const route = async () =>
      (await fx.admin('GET', '/routes?hostname=intranet.example.com')).body.routes[0] as
        | { status: string; statusMessage: string | null }
        | undefined;
    const waiting = await waitFor(async () => ((await route())?.status === 'error' ? route() : undefined), {
      description: 'the route waiting for authenticated-default',
    });
    expect(waiting!.statusMessage).toBe(
      'Access policy "authenticated-default" is not defined on the master (DockFlare\'s group: create it ' +
        'with `tunnelfleet access-policies create-dockflare-defaults --email you@example.com`); the route ' +
        'is not published until its Access is in place',
    );

    const nobody = await run(['access-policies', 'create-dockflare-defaults'], env);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toContain('--email ADDRESS or --email-domain DOMAIN');

    const created = await run(
      [
        'access-policies',
        'create-dockflare-defaults',
        '--email',
        'boss@example.com',
        '--email-domain',
        'corp.example',
      ],
      env,
    );
    expect(created).toMatchObject({
      code: 0,
      stdout:
        'Created named Access policy authenticated-default.\nCreated named Access policy public-default-bypass.\n',
    });
    await waitFor(async () => (await route())?.status === 'active', { description: 'the route published' });
    const app = (
      fx.emulator.accessApps() as unknown as {
        domain: string;
        policies: { name: string; decision: string; include: unknown[] }[];
      }[]
    ).find((a) => a.domain === 'intranet.example.com');
    expect(app?.policies).toEqual([
      expect.objectContaining({
        name: 'authenticated-default [tunnelfleet]',
        decision: 'allow',
        include: [{ email: { email: 'boss@example.com' } }, { email_domain: { domain: 'corp.example' } }],
      }),
    ]);

    const again = await run(
      ['access-policies', 'create-dockflare-defaults', '--email', 'x@example.com'],
      env,
    );
    expect(again.stdout).toBe(
      'Kept named Access policy authenticated-default: it is defined already.\n' +
        'Kept named Access policy public-default-bypass: it is defined already.\n',
    );
    const listed = await run(['access-policies', 'list', '--json'], env);
    expect(
      JSON.parse(listed.stdout).policies.map((p: { name: string; spec: { decision: string } }) => [
        p.name,
        p.spec.decision,
      ]),
    ).toEqual([
      ['authenticated-default', 'allow'],
      ['public-default-bypass', 'bypass'],
    ]);
  });

  it('conflicts adopt: shows the diff of a foreign record, then adopts it with the fingerprint shown', async () => {
    const foreign = fx.emulator.seedDnsRecord('example.com', {
      type: 'A',
      name: 'old.example.com',
      content: '192.0.2.7',
      ttl: 300,
    });
    const agent = await fx.enrollAgent({ name: 'cli-adopter' });
    const old = container('old', {
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': 'old.example.com',
      'tunnelfleet.service': 'http://old:80',
    });
    expect((await fx.reportSnapshot(agent, 1, [old])).status).toBe(200);
    const conflict = await waitFor(
      async () =>
        (
          JSON.parse((await run(['conflicts', '--json'], env)).stdout) as {
            conflicts: { id: number; hostname: string }[];
          }
        ).conflicts.find((c) => c.hostname === 'old.example.com'),
      { description: 'the conflict with the foreign record', timeoutMs: 15_000 },
    );
    const id = String(conflict.id);

    const shownDiff = await run(['conflicts', 'adopt', id], env);
    expect(shownDiff.code).toBe(0);
    expect(shownDiff.stdout).toMatch(/^content\s+192\.0\.2\.7\s+[0-9a-f-]{36}\.cfargotunnel\.com$/m);
    expect(shownDiff.stdout).toMatch(/^proxied\s+false\s+true$/m);
    const fingerprint = /--fingerprint ([0-9a-f]{64})$/m.exec(shownDiff.stdout)?.[1];
    expect(fingerprint).toBeDefined();

    const stale = await run(['conflicts', 'adopt', id, '--fingerprint', '0'.repeat(64)], env);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('changed since its diff was shown');
    expect(fx.emulator.dnsRecords('example.com').find((r) => r.id === foreign.id)).toEqual(foreign);

    const adopted = await run(['conflicts', 'adopt', id, '--fingerprint', fingerprint!], env);
    expect(adopted.code).toBe(0);
    expect(adopted.stdout).toMatch(/^Adopted the DNS record of old\.example\.com for route \d+\.$/m);
    expect(fx.emulator.dnsRecords('example.com').find((r) => r.id === foreign.id)).toMatchObject({
      type: 'CNAME',
      proxied: true,
      comment: `managed by tunnelfleet; agent=${agent.agentId}`,
    });
  });
});
