import { GATEWAY_PROXY_PORT } from '@tunnelfleet/common';
import { describe, expect, it } from 'vitest';
import { type ChromiumSession, launchChromium } from '../harness/chromium.js';
import { waitFor } from '../harness/wait-for.js';
import type { Fleet, TestContainer } from '../system/fleet.js';

import { gatewayAddress, useGatewayFleet } from './gateway-support.js';
import { CONVERGE_TIMEOUT_MS, publishLabels, uniqueHostname } from './support.js';

const { fleet, gatewayVolumeOf } = useGatewayFleet({ secondEngine: 'docker29' });

/** Reports every CSP violation of the page (run before any of the page's own scripts). */
const RECORD_CSP_VIOLATIONS = `
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (event) => {
    window.__cspViolations.push(event.violatedDirective + ' ' + event.blockedURI);
  });
`;

/**
 * A sleeping container's route, published through host A's gateway, and a browser that resolves
 * its hostname to the gateway's proxy (as cloudflared would reach it).
 */
async function sleepingRoute(f: Fleet, prefix: string, labels: Record<string, string>, script: string) {
  const agentId = await f.a.agentId();
  gatewayVolumeOf(agentId);
  const hostname = uniqueHostname(prefix);
  const app = await f.a.runContainer({
    labels: publishLabels(hostname, { 'tunnelfleet.wake': 'true', ...labels }),
    entrypoint: ['sh', '-c', script],
  });
  // Run once, then stopped: a stopped container with wake labels is `sleeping`, its route published.
  await app.container.stop({ t: 1 });
  const address = await gatewayAddress(f.a.docker, agentId, f.a.network);
  const browser = await launchChromium({ args: [`--host-resolver-rules=MAP ${hostname} ${address}`] });
  await browser.context.addInitScript({ content: RECORD_CSP_VIOLATIONS });
  return { hostname, app, browser, url: `http://${hostname}:${GATEWAY_PROXY_PORT}/` };
}

/** Loads the page until the gateway routes the hostname (the table may come a moment later). */
async function openLoadingPage(browser: ChromiumSession, url: string) {
  const page = await browser.context.newPage();
  let last: unknown;
  await waitFor(
    async () => {
      last = await page.goto(url).then(
        async (answer) => `${answer?.status()} ${await page.content()}`,
        (error: Error) => error.message,
      );
      return typeof last === 'string' && last.startsWith('503 ') ? true : undefined;
    },
    { description: 'the loading page', timeoutMs: CONVERGE_TIMEOUT_MS, intervalMs: 1_000 },
  ).catch((error: Error) => {
    throw new Error(`${error.message}; the last answer: ${String(last).slice(0, 500)}`);
  });
  return page;
}

async function exec(app: TestContainer, command: string[]) {
  const run = await app.container.exec({ Cmd: command });
  const stream = await run.start({});
  stream.resume();
  await new Promise((resolve) => stream.on('end', resolve));
}

describe('the loading page in Chromium', { timeout: 300_000 }, () => {
  it('polls the state, shows the log lines, and redirects to redirect_path once the container is ready', async () => {
    const f = fleet();
    const { app, browser, url } = await sleepingRoute(
      f,
      'page',
      { 'tunnelfleet.redirect_path': '/index.html', 'tunnelfleet.start_timeout': '300s' },
      // Serves only once the test says so: the page must be seen waiting first.
      'echo "booting: warming the caches"; while [ ! -f /tmp/go ]; do sleep 0.2; done; exec /usr/local/bin/serve',
    );
    try {
      const page = await openLoadingPage(browser, url);
      const statePolls: string[] = [];
      page.on('request', (request) => {
        if (request.url().includes('/_tunnelfleet/state')) statePolls.push(request.url());
      });
      await page.locator('#logs', { hasText: 'booting: warming the caches' }).waitFor({ timeout: 60_000 });
      await waitFor(() => statePolls.length >= 1, { description: 'the page polling the state' });
      expect(await page.locator('#state').textContent()).toBe('starting');
      // Read before the redirect: the next document starts a new list.
      expect(await page.evaluate('window.__cspViolations')).toEqual([]);

      await exec(app, ['touch', '/tmp/go']);
      await page.waitForURL((target) => target.pathname === '/index.html', { timeout: 60_000 });
      // The web image serves its hostname as index.html: the container's answer, not the gateway's.
      expect((await page.locator('body').textContent())?.trim()).toBe(app.id.slice(0, 12));
    } finally {
      await browser.close();
    }
  });

  it('after the start timeout says so, then shows the error page with the log lines', async () => {
    const f = fleet();
    const { browser, url } = await sleepingRoute(
      f,
      'mute',
      { 'tunnelfleet.start_timeout': '3s' },
      'echo "mute: waiting for a licence server"; exec sleep 3600',
    );
    try {
      const page = await openLoadingPage(browser, url);
      await page.locator('#state', { hasText: 'did not start in time' }).waitFor({ timeout: 60_000 });
      expect(await page.evaluate('window.__cspViolations')).toEqual([]);
      const failed = await page.reload();
      expect(failed?.status()).toBe(504);
      expect(await page.locator('h1').textContent()).toContain('did not start in time');
      expect(await page.locator('pre').textContent()).toContain('mute: waiting for a licence server');
      expect(await page.evaluate('window.__cspViolations')).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
