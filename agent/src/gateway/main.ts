#!/usr/bin/env node
import { ConfigError, createLogger, gatewayConfigSpec, loadConfig } from '@tunnelfleet/common';
import { startGateway } from './gateway.js';

/** sysexits.h EX_CONFIG, as the agent: a supervisor can tell "fix the environment" from a crash. */
const EXIT_CONFIG = 78;

/**
 * `node agent/dist/gateway/main.js`: the L7 gateway from its environment, in a container of the
 * agent's image that the agent creates. SIGTERM stops accepting and lets requests in flight end.
 */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig<typeof gatewayConfigSpec>>;
  try {
    config = loadConfig(gatewayConfigSpec);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`tunnelfleet gateway: ${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  const logger = createLogger({ name: 'gateway', level: config.logLevel, secrets: [config.apiToken] });
  const gateway = await startGateway({ ...config, logger });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`tunnelfleet gateway: shutdown failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `tunnelfleet gateway failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
