#!/usr/bin/env node
import { agentConfigSpec, ConfigError, loadConfig } from '@tunnelfleet/common';
import { type Agent, startAgent } from './agent.js';

/** sysexits.h EX_CONFIG: a supervisor (compose, systemd) can tell "fix the environment" from a crash. */
const EXIT_CONFIG = 78;

/**
 * `node agent/dist/main.js`: the agent from its environment. A bad environment is reported in full
 * (every variable, by name) with exit code 78. SIGTERM/SIGINT stop the agent and leave cloudflared
 * serving, so restarting or upgrading the agent never interrupts the tunnel.
 */
async function main(): Promise<void> {
  let agent: Agent;
  try {
    agent = await startAgent(loadConfig(agentConfigSpec));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`tunnelfleet agent: ${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    agent.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`tunnelfleet agent: shutdown failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `tunnelfleet agent failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
