#!/usr/bin/env node
import { ConfigError, loadConfig, masterConfigSpec } from '@tunnelfleet/common';
import { startMaster } from './master.js';

/**
 * `node master/dist/main.js`: the master from its environment. A bad environment is reported in
 * full (every variable at once) with exit code 2; SIGTERM/SIGINT drain and stop it with code 0.
 */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig<typeof masterConfigSpec>>;
  try {
    config = loadConfig(masterConfigSpec);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`tunnelfleet master: ${error.message}\n`);
    process.exit(2);
  }
  const master = await startMaster(config);
  const stop = (signal: NodeJS.Signals) => {
    master.logger.info({ signal }, 'shutting down');
    master.close().then(
      () => process.exit(0),
      (error: unknown) => {
        master.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `tunnelfleet master failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
