import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { HarnessError } from './harness-error.js';

/** Debian's chromium (`scripts/provision` installs it); no browser is downloaded. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Flags for a root, headless, offline-minded run: no sandbox (root in a container), no GPU, no
 * QUIC, and none of the background traffic (updates, sync, component downloads) a test must not
 * depend on.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface ChromiumSession {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Real Chromium driven by playwright-core, with a fresh profile (`--user-data-dir` in a temp dir)
 * so no cookie or cache outlives the test. Fails with the fix when chromium is not installed.
 */
export async function launchChromium(
  options: {
    viewport?: { width: number; height: number };
    colorScheme?: 'light' | 'dark';
    /** More flags, e.g. `--host-resolver-rules` to send a public hostname to a local address. */
    args?: string[];
  } = {},
): Promise<ChromiumSession> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new HarnessError(
      `${CHROMIUM_PATH} not found: the dashboard's browser tests drive Debian's chromium. Install it with ` +
        '`sudo bash scripts/provision` (or `apt-get install -y chromium`).',
    );
  }
  const profile = await mkdtemp(join(tmpdir(), 'tunnelfleet-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
    viewport: options.viewport ?? { width: 1280, height: 900 },
    colorScheme: options.colorScheme ?? 'light',
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
