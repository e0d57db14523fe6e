import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CSRF_HEADER } from '@tunnelfleet/common';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudflareEmulator, startCloudflareEmulator } from '../cloudflare-emulator/index.js';
import { seriousAxeViolations } from '../harness/axe.js';
import { type ChromiumSession, launchChromium } from '../harness/chromium.js';
import { HarnessError } from '../harness/harness-error.js';
import { type RedisServerHandle, startRedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { type CloudflareAccount, createCloudflareAccount } from '../system/cloudflare-account.js';
import { type MasterProcess, startMasterProcess } from '../system/master-process.js';
import { connectProtocolAgent, type ProtocolAgent, reportedContainer } from '../system/protocol-agent.js';

/** The page's focused element, read in the page (this package's TypeScript has no DOM types). */
type Focus = { document: { activeElement: never } };

const DASHBOARD_INDEX = fileURLToPath(new URL('../../../dashboard/dist/index.html', import.meta.url));
/**
 * Where the screenshots of docs/ and the README go: `docs/screenshots` when
 * `DASHBOARD_SCREENSHOTS=1` (regenerating them), else a temp dir, so a test run leaves the tree clean.
 */
const SCREENSHOTS = process.env.DASHBOARD_SCREENSHOTS
  ? fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url))
  : `${mkdtempSync(join(tmpdir(), 'tunnelfleet-screenshots-'))}/`;
const ZONE = 'example.com';
const APP = `app.${ZONE}`;

/** The first agent's containers: a route in DockFlare's labels, and one started later. */
const appContainer = () =>
  reportedContainer('c1', 'app', {
    'dockflare.enable': 'true',
    'dockflare.hostname': APP,
    'dockflare.service': 'http://app:8080',
  });
const lateContainer = () =>
  reportedContainer('c4', 'late', {
    'tunnelfleet.enable': 'true',
    'tunnelfleet.hostname': `late.${ZONE}`,
    'tunnelfleet.service': 'http://late:80',
  });

/**
 * The dashboard in real Chromium against the real master process (built by `pnpm build`, the
 * dashboard's assets with it), a private Redis and the Cloudflare emulator. Agents are protocol
 * agents: real HTTP to the master with the key the dashboard showed. The tests run in order, as an
 * operator's session would: enrol, approve, watch a route appear, build a policy, revoke.
 */
describe('dashboard in Chromium', () => {
  let redis: RedisServerHandle;
  let emulator: CloudflareEmulator;
  let master: MasterProcess;
  let browser: ChromiumSession;
  let page: Page;
  let agent: ProtocolAgent;
  let account: CloudflareAccount;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    if (!existsSync(DASHBOARD_INDEX)) {
      throw new HarnessError(`${DASHBOARD_INDEX} missing: run \`pnpm build\` (it builds the dashboard too)`);
    }
    redis = await startRedisServer();
    emulator = await startCloudflareEmulator();
    account = createCloudflareAccount(emulator, [ZONE]);
    master = await startMasterProcess({
      redisUrl: redis.url,
      cloudflare: account,
      env: { SYNC_DEBOUNCE_MS: '50', LOG_LEVEL: 'warn' },
    });
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text());
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    if (!process.env.DASHBOARD_SCREENSHOTS) rmSync(SCREENSHOTS, { recursive: true, force: true });
    await master?.close();
    await emulator?.close();
    await redis?.stop();
  });

  const shot = (name: string) => page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
  /** A link of the main navigation (other links on a page may have the same words). */
  const nav = (name: string) =>
    page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
  /** Another host, enrolled through the API (approved at once), reporting one labelled container. */
  const hostWith = async (name: string, containerId: string, containerName: string, hostname: string) => {
    const key = (await master.admin.createKey({ name, hostnameAllowlist: [`*.${ZONE}`] })).key;
    const host = await connectProtocolAgent(master.url, key, name);
    await host.report([
      reportedContainer(containerId, containerName, {
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': hostname,
        'tunnelfleet.service': `http://${containerName}:80`,
      }),
    ]);
    return host;
  };
  const signIn = async (token: string) => {
    await page.goto(master.url);
    await page.getByLabel('Token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };

  it('serves every page with a strict CSP and no inline script', async () => {
    for (const path of ['/', '/agents', '/routes/1', '/playground']) {
      const answer = await fetch(`${master.url}${path}`);
      expect(answer.status).toBe(200);
      const csp = answer.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
      const html = await answer.text();
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, body] of scripts) {
        expect(attributes).toMatch(/\ssrc="\/assets\//);
        expect(body!.trim()).toBe('');
      }
      expect(html).not.toMatch(/\son[a-z]+=/i);
      expect(html).not.toMatch(/\sstyle=/i);
    }
  });

  it('refuses a wrong token, signs the admin in, and shows the overview', async () => {
    await signIn('tfa_not-the-token-at-all');
    await page
      .getByRole('alert')
      .getByText(/not accepted/)
      .waitFor();
    await shot('login');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByLabel('Token').fill(master.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(await page.getByText('Signed in as').textContent()).toContain('(admin)');
    const cookies = await browser.context.cookies(master.url);
    const session = cookies.find((cookie) => cookie.name === 'tunnelfleet_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // The page's script cannot read the session cookie.
    expect(await page.evaluate('document.cookie')).not.toContain('tunnelfleet_session');
  });

  it('enrols a host: the key is shown once in a .env that a real agent registers with', async () => {
    await nav('Agents').click();
    await page.getByText('No agent yet').waitFor();
    await page.getByRole('button', { name: 'Enrol a host' }).click();
    await page.getByLabel('Host name').fill('web-1');
    await page.getByLabel('Patterns (comma or space separated)').fill(`*.${ZONE}`);
    await page.getByLabel('An admin approves it here').check();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Create key' }).click();
    const env = await page.getByLabel('.env').inputValue();
    expect(env).toContain(`TUNNELFLEET_MASTER_URL=${master.url}`);
    const key = /^TUNNELFLEET_API_KEY=(tfk_\S+)$/m.exec(env)?.[1];
    expect(key).toBeDefined();
    expect(await page.getByLabel('docker-compose.agent.yml').inputValue()).toContain('socket-proxy');
    await shot('enrol');

    agent = await connectProtocolAgent(master.url, key!, 'web-1');
    await page.getByRole('button', { name: 'Done' }).click();
    // The list refreshes itself: the new host appears, waiting for approval, without a reload.
    await page.locator('tr[data-agent="web-1"]').getByText('waiting for approval').waitFor();
  });

  it('approves the pending host', async () => {
    await page.getByRole('button', { name: 'Approve web-1' }).click();
    await page.getByRole('button', { name: 'Revoke web-1' }).waitFor();
    await waitFor(
      async () => emulator.tunnels().some((t) => !t.deleted_at && String(t.name).includes(agent.agentId)),
      { description: "the approved host's tunnel at Cloudflare" },
    );
  });

  it("rolls a cloudflared image out to the fleet's running agents", async () => {
    await page.getByLabel('New image').fill('tunnelfleet-test/cloudflared:next');
    await page.getByRole('button', { name: 'Roll out' }).click();
    await page.getByText('Image tunnelfleet-test/cloudflared:next sent to 1 agent.').waitFor();
    expect((await master.admin.agent(agent.agentId)).cloudflaredConfig.image).toBe(
      'tunnelfleet-test/cloudflared:next',
    );
  });

  it('shows a route appear live when a labelled container starts, with its labels and language', async () => {
    await nav('Routes').click();
    await page.getByText('No route matches').waitFor();
    const report = await agent.report([appContainer()]);
    expect(report.status).toBe(200);
    // No reload, no navigation: the page reads its rows again by itself.
    await page.getByRole('link', { name: APP }).waitFor();
    await waitFor(() => emulator.dnsRecords(ZONE).some((r) => r.name === APP), { description: 'the CNAME' });
    await shot('routes');
    await page.getByRole('link', { name: APP }).click();
    await page.getByRole('heading', { name: APP }).waitFor();
    await page.getByText('DockFlare', { exact: true }).waitFor();
    await page.getByText(`dockflare.hostname=${APP}`).waitFor();
    await shot('route-detail');
  });

  it('explains a conflict, and hands the hostname over to the route that waits', async () => {
    const second = await hostWith('web-2', 'c2', 'copy', APP);
    await nav('Conflicts').click();
    await page.getByRole('heading', { name: new RegExp(APP) }).waitFor();
    await page.getByText('Another route holds this hostname').waitFor();
    await page
      .getByRole('link', { name: /^route \d+$/ })
      .first()
      .waitFor();
    await shot('conflicts');

    // Hand the hostname over to the waiting route: at Cloudflare, the CNAME moves to its tunnel.
    const [holder] = await master.admin.routes({ agentId: agent.agentId, hostname: APP });
    const tunnel = (await master.admin.agent(second.agentId)).tunnel!.id;
    await page.getByRole('button', { name: `Hand ${APP} over to route` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Hand over' }).click();
    await waitFor(
      () =>
        emulator.dnsRecords(ZONE).some((r) => r.name === APP && r.content === `${tunnel}.cfargotunnel.com`),
      { description: "the CNAME on the new holder's tunnel" },
    );
    // The former holder now waits: the page names it, without a reload.
    await page.getByText(`Waiting: route ${holder!.id}`).waitFor();
  });

  it('adopts a foreign DNS record after its diff, refusing while the record changed since', async () => {
    const legacy = `legacy.${ZONE}`;
    const inTheWay = emulator.seedDnsRecord(ZONE, {
      type: 'A',
      name: legacy,
      content: '192.0.2.10',
      proxied: false,
      ttl: 300,
      comment: 'the old server',
    });
    const bystander = emulator.seedDnsRecord(ZONE, {
      type: 'A',
      name: `mail.${ZONE}`,
      content: '192.0.2.25',
      ttl: 300,
    });
    const third = await hostWith('web-3', 'c5', 'legacy', legacy);
    await nav('Conflicts').click();
    await page.getByRole('heading', { name: new RegExp(legacy) }).waitFor({ timeout: 30_000 });
    await page.getByText('A DNS record Tunnelfleet did not create is in the way').waitFor();
    const tunnel = (await master.admin.agent(third.agentId)).tunnel!.id;
    const review = page.getByRole('button', { name: `Review adopting the record on ${legacy}` });

    // The diff: the record as it is at Cloudflare beside what Tunnelfleet would write.
    await review.click();
    const dialog = page.getByRole('dialog');
    const row = (field: string) => dialog.getByRole('row', { name: new RegExp(`^${field}\\b`) });
    await expect(row('content').textContent()).resolves.toBe(`content192.0.2.10${tunnel}.cfargotunnel.com`);
    await expect(row('comment').textContent()).resolves.toBe(
      `commentthe old servermanaged by tunnelfleet; agent=${third.agentId}`,
    );
    await shot('adopt-diff');
    expect(await seriousAxeViolations(page)).toEqual([]);

    // Someone edits the record at Cloudflare before the operator confirms: nothing is written.
    const edit = await fetch(`${account.baseUrl}/zones/${account.zones[ZONE]}/dns_records/${inTheWay.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${account.apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'A', name: legacy, content: '192.0.2.99', ttl: 300 }),
    });
    expect(edit.status).toBe(200);
    const edited = emulator.dnsRecords(ZONE);
    await dialog.getByRole('button', { name: 'Adopt' }).click();
    await page
      .getByRole('alert')
      .getByText(/changed since its diff was shown/)
      .waitFor();
    expect(emulator.dnsRecords(ZONE)).toEqual(edited);

    // A fresh diff shows the edit; confirming it adopts the record in place.
    await review.click();
    await expect(row('content').textContent()).resolves.toBe(`content192.0.2.99${tunnel}.cfargotunnel.com`);
    await dialog.getByRole('button', { name: 'Adopt' }).click();
    await page.getByRole('heading', { name: new RegExp(legacy) }).waitFor({ state: 'detached' });
    const after = emulator.dnsRecords(ZONE);
    expect(after.filter((r) => r.name === legacy)).toEqual([
      expect.objectContaining({
        id: inTheWay.id,
        type: 'CNAME',
        content: `${tunnel}.cfargotunnel.com`,
        proxied: true,
        ttl: 1,
        comment: `managed by tunnelfleet; agent=${third.agentId}`,
      }),
    ]);
    const others = (list: typeof after) => list.filter((r) => r.id !== inTheWay.id);
    expect(others(after)).toEqual(others(edited));
    expect(after).toContainEqual(bystander);
    await waitFor(
      () =>
        (
          emulator.tunnelConfig(tunnel)?.config as { ingress?: { hostname?: string }[] } | undefined
        )?.ingress?.some((rule) => rule.hostname === legacy),
      { description: 'the route published on its tunnel', timeoutMs: 30_000 },
    );
    const { entries } = await master.admin.audit({ target: legacy });
    expect(entries.find((entry) => entry.action === 'conflict.adopt')).toMatchObject({
      actor: expect.stringMatching(/^dashboard:admin:[0-9a-f]{8}$/),
      details: { recordId: inTheWay.id, agentId: third.agentId },
    });
  });

  it('adopts a foreign ingress rule after its diff: the tunnel takes it over where it stands', async () => {
    const oldApi = `old-api.${ZONE}`;
    const key = (await master.admin.createKey({ name: 'web-4', hostnameAllowlist: [`*.${ZONE}`] })).key;
    const fourth = await connectProtocolAgent(master.url, key, 'web-4');
    const tunnel = await waitFor(async () => (await master.admin.agent(fourth.agentId)).tunnel?.id, {
      description: "the new host's tunnel",
    });
    // Someone wrote a rule for the hostname on that tunnel by hand, between two others.
    emulator.seedIngressRule(tunnel, { hostname: `first.${ZONE}`, service: 'http://first:80' });
    emulator.seedIngressRule(tunnel, {
      hostname: oldApi,
      service: 'http://old-api:9000',
      originRequest: { noTLSVerify: true },
    });
    emulator.seedIngressRule(tunnel, { hostname: `last.${ZONE}`, service: 'http://last:80' });
    const rules = () =>
      (emulator.tunnelConfig(tunnel)?.config as { ingress?: Record<string, unknown>[] } | undefined)
        ?.ingress ?? [];
    const before = rules();
    await fourth.report([
      reportedContainer('c6', 'old-api', {
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': oldApi,
        'tunnelfleet.service': 'http://old-api:80',
      }),
    ]);
    await nav('Conflicts').click();
    await page.getByRole('heading', { name: new RegExp(oldApi) }).waitFor({ timeout: 30_000 });
    await page.getByText('An ingress rule Tunnelfleet did not write serves this hostname').waitFor();
    expect(rules()).toEqual(before);

    await page.getByRole('button', { name: `Review adopting the ingress rule on ${oldApi}` }).click();
    const dialog = page.getByRole('dialog');
    const row = (field: string) => dialog.getByRole('row', { name: new RegExp(`^${field}\\b`) });
    await expect(row('service').textContent()).resolves.toBe('servicehttp://old-api:9000http://old-api:80');
    await expect(row('originRequest').textContent()).resolves.toBe('originRequest{"noTLSVerify":true}—');
    await dialog.getByRole('button', { name: 'Adopt' }).click();
    // The tunnel's next sync takes it over; the conflict closes without a reload.
    await page
      .getByRole('heading', { name: new RegExp(oldApi) })
      .waitFor({ state: 'detached', timeout: 30_000 });
    expect(rules()).toEqual([
      before[0],
      { hostname: oldApi, service: 'http://old-api:80' },
      before[2],
      ...before.slice(3),
    ]);
  });

  it('resumes its event stream after the master restarts: a new route still shows without a reload', async () => {
    await nav('Routes').click();
    await page.getByRole('link', { name: APP }).first().waitFor();
    const resumed = page.waitForResponse(
      (r) => r.url().endsWith('/api/v1/admin/events') && r.status() === 200,
    );
    await master.restart();
    // The browser reconnects the dropped stream by itself (EventSource, retry 2 s).
    await resumed;
    await agent.report([appContainer(), lateContainer()]);
    await page.getByRole('link', { name: `late.${ZONE}` }).waitFor();
  });

  it('builds a named Access policy that a route then uses', async () => {
    await nav('Access').click();
    await page.getByLabel('Name (labels use it: tunnelfleet.access.named_policy=…)').fill('ops-team');
    await page.getByLabel('Value').first().fill('ops@example.com');
    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('heading', { name: /ops-team/ }).waitFor();
    await agent.report([
      appContainer(),
      lateContainer(),
      reportedContainer('c3', 'admin', {
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': `admin.${ZONE}`,
        'tunnelfleet.service': 'http://admin:80',
        'tunnelfleet.access.named_policy': 'ops-team',
      }),
    ]);
    await waitFor(() => emulator.accessApps().some((app) => JSON.stringify(app).includes(`admin.${ZONE}`)), {
      description: 'the Access app of the route that names the policy',
      timeoutMs: 30_000,
    });
    await page.reload();
    await page.getByText('at Cloudflare').waitFor();
    await page.getByText(`Used by one route: admin.${ZONE}`).waitFor();
    await shot('access');
  });

  it('groups the routes by agent and by Access policy, a header before each group', async () => {
    await nav('Routes').click();
    await page.getByLabel('Group by').selectOption('agent');
    await page.waitForURL(/group=agent/);
    const headers = page.getByTestId('route-group');
    const agents = (await master.admin.agents()).filter((a) => a.routeCount > 0);
    await waitFor(async () => (await headers.count()) === agents.length, {
      description: 'one header per agent with routes',
    });
    const web1 = headers.filter({ hasText: `web-1 (${agent.agentId})` });
    await expect(web1.textContent()).resolves.toMatch(/3 routes$/);
    // Above the rows, the group at the top of the view (its header may have scrolled away).
    const first = await headers.first().textContent();
    await expect(page.getByTestId('group-in-view').textContent()).resolves.toBe(
      `In view: ${first!.replace(/ (\d+ routes?)$/, ' ($1)')}`,
    );
    // The header comes right before its agent's routes: the next rows are web-1's own.
    const rows = page.locator('tbody tr.vrow');
    const web1Rows = async () => {
      const texts = await rows.allTextContents();
      const at = texts.findIndex((text) => text.startsWith(`web-1 (${agent.agentId})`));
      return texts.slice(at + 1, at + 4);
    };
    await waitFor(async () => (await web1Rows()).every((text) => text.includes(agent.agentId)), {
      description: "web-1's three routes right after its header",
    });
    await shot('routes-grouped');

    await page.getByLabel('Group by').selectOption('policy');
    await page.waitForURL(/group=policy/);
    const policy = headers.filter({ hasText: 'Policy ops-team' });
    await expect(policy.textContent()).resolves.toBe('Policy ops-team 1 route');
    await waitFor(
      async () => {
        const after = await rows.allTextContents();
        return after[after.findIndex((text) => text.startsWith('Policy ops-team')) + 1]?.includes(
          `admin.${ZONE}`,
        );
      },
      { description: 'the route of policy ops-team right after its header' },
    );
    await page.getByLabel('Group by').selectOption('');
    await page.waitForURL((url) => !url.search.includes('group='));
    await expect(headers.count()).resolves.toBe(0);
  });

  it('works from the keyboard alone: search, open a route, and a confirmation that Escape cancels', async () => {
    /** Presses Tab until `target` has the focus: it must be reachable, in a bounded number of steps. */
    const tabTo = async (target: Locator) => {
      for (let step = 0; step < 60; step++) {
        await page.keyboard.press('Tab');
        if (
          await target.evaluate(
            (element) => element === (globalThis as unknown as Focus).document.activeElement,
          )
        ) {
          return;
        }
      }
      throw new Error(`${target} is not reachable with Tab`);
    };
    await page.goto(`${master.url}/routes`);
    await page.getByRole('heading', { name: 'Routes', level: 1 }).waitFor();
    await tabTo(page.getByLabel('Search hostname or container'));
    await page.keyboard.type('late.');
    await page.keyboard.press('Enter');
    await page.getByTestId('routes-total').getByText('1 route', { exact: true }).waitFor();
    await tabTo(page.getByRole('link', { name: `late.${ZONE}` }));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `late.${ZONE}`, level: 1 }).waitFor();

    await page.goto(`${master.url}/agents`);
    await tabTo(page.getByRole('button', { name: 'Revoke web-2' }));
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    // The dialog holds the focus, and Escape closes it without revoking anything.
    const holdsFocus = await dialog.evaluate((element) =>
      element.contains((globalThis as unknown as Focus).document.activeElement),
    );
    expect(holdsFocus).toBe(true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect((await master.admin.agents()).find((a) => a.name === 'web-2')?.status).toBe('approved');
  });

  it('runs the label parser in the browser: routes and problems as one types', async () => {
    await nav('Labels playground').click();
    const input = page.getByLabel(/^Labels/);
    await input.fill(
      'tunnelfleet.enable=true\ntunnelfleet.hostname=shop.example.com\ntunnelfleet.service=http://shop:3000',
    );
    await page.getByTestId('playground-result').getByText('shop.example.com').waitFor();
    await input.fill(
      'tunnelfleet.enable=true\ntunnelfleet.hostname=not a hostname\ntunnelfleet.service=http://shop:3000',
    );
    await page.getByTestId('playground-result').getByText('error', { exact: true }).waitFor();
    await input.fill(
      '- "labelgate.tunnel.web.hostname=lg.example.com"\n- "labelgate.tunnel.web.service=http://lg:80"',
    );
    await page.getByTestId('playground-result').getByText('lg.example.com').waitFor();
    await shot('playground');
  });

  it('refuses a forged change from another site (CSRF): the agent is not revoked', async () => {
    // An attacker's page on another port of the same host (same site, so SameSite does not help
    // here): it auto-submits a form that would revoke the agent with the victim's cookie.
    const evil: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(
        `<form id="f" method="POST" action="${master.url}/api/v1/admin/agents/${agent.agentId}/revoke"></form>` +
          '<script>document.getElementById("f").submit()</script>',
      );
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    try {
      const attack = await browser.context.newPage();
      const answered = attack.waitForResponse((r) => r.url().includes('/revoke'));
      await attack.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
      expect((await answered).status()).toBe(403);
      await attack.close();
    } finally {
      evil.close();
    }
    const after = await master.admin.agent(agent.agentId);
    expect(after.status).toBe('approved');
    expect(emulator.dnsRecords(ZONE).some((r) => r.name === APP)).toBe(true);
  });

  it('revokes a host after a confirmation saying what follows; its routes are withdrawn at Cloudflare', async () => {
    await nav('Agents').click();
    await page.getByRole('button', { name: 'Revoke web-1' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('3 routes are withdrawn').waitFor();
    await dialog.getByText('its tunnel is deleted').waitFor();
    await shot('revoke-confirmation');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await page.locator('tr[data-agent="web-1"]').getByText('revoked').waitFor();
    await waitFor(() => !emulator.dnsRecords(ZONE).some((r) => r.name === `admin.${ZONE}`), {
      description: "the revoked host's records withdrawn",
      timeoutMs: 30_000,
    });
    await waitFor(
      () => emulator.tunnels().every((t) => !String(t.name).includes(agent.agentId) || t.deleted_at),
      {
        description: "the revoked host's tunnel deleted",
        timeoutMs: 30_000,
      },
    );
  });

  it('lists the audit log with who made each change from the dashboard', async () => {
    await nav('Audit log').click();
    await page.getByLabel('Action').fill('agent.revoke');
    await page.getByRole('button', { name: 'Filter' }).click();
    const row = page.locator('tbody tr').filter({ hasText: 'agent.revoke' }).first();
    await row.waitFor();
    await expect(row.textContent()).resolves.toMatch(/dashboard:admin:[0-9a-f]{8}/);
    await shot('audit');
  });

  it('has no serious accessibility violation on any page (axe-core)', async () => {
    const [route] = (await master.admin.routes({ hostname: APP })) as { id: number }[];
    const pages: [string, string][] = [
      ['/', 'Overview'],
      ['/agents', 'Agents'],
      ['/routes', 'Routes'],
      ['/routes?group=agent', 'Routes'],
      [`/routes/${route!.id}`, APP],
      [`/agents/${agent.agentId}`, 'web-1'],
      ['/conflicts', 'Conflicts'],
      ['/access', 'Access'],
      ['/audit', 'Audit log'],
      ['/playground', 'Labels playground'],
      ['/viewer-tokens', 'Viewer tokens'],
    ];
    const found: string[] = [];
    for (const [path, heading] of pages) {
      await page.goto(`${master.url}${path}`);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      found.push(...(await seriousAxeViolations(page)).map((violation) => `${path}: ${violation}`));
    }
    expect(found).toEqual([]);
  });

  it('says clearly what is missing: a route or page that does not exist, a search that finds nothing', async () => {
    await page.goto(`${master.url}/routes/999999`);
    await page.getByRole('alert').getByText('no route 999999').waitFor();
    await page.getByRole('link', { name: '← Routes' }).waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);

    await page.goto(`${master.url}/agents/ag_0000000000000000`);
    await page.getByRole('alert').filter({ hasText: 'ag_0000000000000000' }).first().waitFor();

    await page.goto(`${master.url}/no-such-page`);
    await page.getByRole('heading', { name: 'Not found', level: 1 }).waitFor();
    await page.getByText('No page at /no-such-page.').waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByRole('link', { name: 'Go to the overview' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();

    await page.goto(`${master.url}/routes?q=nothing-is-called-this`);
    await page.getByText('No route matches. Clear the filters, or start a labelled container.').waitFor();
    await page.getByTestId('routes-total').getByText('0 routes').waitFor();
    await nav('Audit log').click();
    await page.getByLabel('Action').fill('no.such.action');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No entry matches.').waitFor();
  });

  it('gives a viewer token a read-only dashboard; a change it forges is refused', async () => {
    await nav('Viewer tokens').click();
    await page.getByLabel('Name').fill('on-call');
    await page.getByRole('button', { name: 'Create viewer token' }).click();
    const token = await page.getByLabel(/New viewer token/).inputValue();
    expect(token).toMatch(/^tfv_/);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').waitFor();

    await signIn(token);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(await page.getByText('Signed in as').textContent()).toContain('read-only viewer');
    await expect(page.getByRole('button', { name: 'Reconcile now' }).count()).resolves.toBe(0);
    await nav('Agents').click();
    await page.locator('tr[data-agent="web-2"]').waitFor();
    await expect(page.getByRole('button', { name: 'Enrol a host' }).count()).resolves.toBe(0);
    await expect(page.getByRole('button', { name: /^Revoke/ }).count()).resolves.toBe(0);
    await expect(nav('Viewer tokens').count()).resolves.toBe(0);
    // Even with the session's own CSRF token, the API refuses a viewer's change.
    const status = await page.evaluate(async (header) => {
      const session = (await (await fetch('/api/v1/session')).json()) as { session: { csrfToken: string } };
      const answer = await fetch('/api/v1/admin/keys', {
        method: 'POST',
        headers: { 'content-type': 'application/json', [header]: session.session.csrfToken },
        body: JSON.stringify({ name: 'viewer-made', allowAnyHostname: true }),
      });
      return answer.status;
    }, CSRF_HEADER);
    expect(status).toBe(403);
    expect((await master.admin.keys()).map((k) => k.name)).not.toContain('viewer-made');
    await shot('viewer-agents');
  });

  it('signs out: the page shows the sign-in form and the old session opens nothing', async () => {
    const [cookie] = (await browser.context.cookies(master.url)).filter(
      (c) => c.name === 'tunnelfleet_session',
    );
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').waitFor();
    await page.reload();
    await page.getByLabel('Token').waitFor();
    const replay = await fetch(`${master.url}/api/v1/admin/agents`, {
      headers: { cookie: `${cookie!.name}=${cookie!.value}` },
    });
    expect(replay.status).toBe(401);
  });

  it('is readable at 375 px in the dark theme, and no page broke the CSP', async () => {
    const narrow = await launchChromium({ viewport: { width: 375, height: 800 }, colorScheme: 'dark' });
    try {
      const small = await narrow.context.newPage();
      await small.goto(master.url);
      await small.getByLabel('Token').fill(master.adminToken);
      await small.getByRole('button', { name: 'Sign in' }).click();
      await small.getByRole('heading', { name: 'Overview' }).waitFor();
      const overflow = await small.evaluate('document.documentElement.scrollWidth - window.innerWidth');
      expect(overflow).toBeLessThanOrEqual(0);
      const background = await small.evaluate('getComputedStyle(document.body).backgroundColor');
      expect(background).toBe('rgb(13, 17, 23)');
      expect(await seriousAxeViolations(small)).toEqual([]);
      await small.screenshot({ path: `${SCREENSHOTS}overview-375-dark.png`, fullPage: true });
    } finally {
      await narrow.close();
    }
    expect(cspViolations).toEqual([]);
  });
});
