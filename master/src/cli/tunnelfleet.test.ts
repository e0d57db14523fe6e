import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_ROUTES, type Container, snapshotFingerprint } from '@tunnelfleet/common';
import { freePort, waitFor } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  type MasterFixture,
  registerBody,
  startMasterFixture,
} from '../../test/master-test-fixture.js';
import { startWebhookReceiver } from '../../test/webhook-receiver.js';

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
      autoApprove: true,
    });

    const readable = await run(['keys', 'create', 'cli-host-2', '--manual-approval'], env);
    expect(readable.code).toBe(0);
    expect(readable.stdout).toMatch(/^Created key [0-9a-f]{16} \(cli-host-2\)/);
    expect(readable.stdout).toMatch(/^TUNNELFLEET_API_KEY=tfk_[0-9a-f]{16}_\S+$/m);

    const list = await run(['keys', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+STATUS\s+AGENT\s+APPROVAL\s+ALLOWLIST/);
    expect(list.stdout).toMatch(
      new RegExp(`^${body.record.id}\\s+cli-host\\s+active\\s+-\\s+auto\\s+\\*\\.example\\.com`, 'm'),
    );
    expect(list.stdout).toMatch(/cli-host-2\s+active\s+-\s+manual\s+any/);
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

  it('agents approve lets a pending agent in', async () => {
    const pending = await fx.enrollAgent({ name: 'cli-pending', autoApprove: false });
    expect(pending.status).toBe('pending');
    const approved = await run(['agents', 'approve', pending.agentId], env);
    expect(approved).toMatchObject({ code: 0, stdout: `Approved agent ${pending.agentId} (cli-pending).\n` });
    const shown = await run(['agents', 'show', pending.agentId], env);
    expect(shown.stdout).toMatch(/^Status\s+approved$/m);
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
    const report = await fx.request('POST', AGENT_ROUTES.reports, {
      token: agent.key,
      body: {
        agentId: agent.agentId,
        sequence: 1,
        observedAt: new Date().toISOString(),
        kind: 'snapshot',
        fingerprint: snapshotFingerprint(containers),
        containers,
      },
    });
    expect(report.status).toBe(200);

    const agents = await run(['agents', 'list'], env);
    expect(agents.code).toBe(0);
    expect(agents.stdout).toMatch(new RegExp(`^${agent.agentId}\\s+cli-agent\\s+approved\\s+yes`, 'm'));

    const shown = await run(['agents', 'show', agent.agentId], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^Status\s+approved$/m);
    expect(shown.stdout).toMatch(/^Tunnel\s+tunnelfleet-\S+ \([0-9a-f-]{36}\)$/m);
    expect(shown.stdout).toMatch(/^web\s+running/m);

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
});
