/**
 * Standalone emulator for the demo and end-to-end tests. Configured by env:
 * EMULATOR_HOST (127.0.0.1), EMULATOR_PORT (0 = any), EMULATOR_EDGE_URL, EMULATOR_ZONES
 * (example.com,example.org), EMULATOR_HEARTBEAT_SECONDS (1), EMULATOR_RATE_LIMIT ("1200/300").
 * Prints one JSON line: { baseUrl, edgeUrl, accountId, zones: {name: id}, token }.
 */
import { startCloudflareEmulator } from './server.js';

function rateLimitFromEnv(raw: string | undefined) {
  if (!raw) return undefined;
  const match = /^(\d+)\/(\d+)$/.exec(raw);
  if (!match) throw new Error(`EMULATOR_RATE_LIMIT must look like "1200/300", got "${raw}"`);
  return { requests: Number(match[1]), windowSeconds: Number(match[2]) };
}

const env = process.env;
const port = Number(env.EMULATOR_PORT ?? 0);
if (!Number.isInteger(port) || port < 0)
  throw new Error(`EMULATOR_PORT must be a port number, got "${env.EMULATOR_PORT}"`);
const emulator = await startCloudflareEmulator({
  host: env.EMULATOR_HOST ?? '127.0.0.1',
  port,
  ...(env.EMULATOR_EDGE_URL ? { edgeUrl: env.EMULATOR_EDGE_URL } : {}),
  heartbeatSeconds: Number(env.EMULATOR_HEARTBEAT_SECONDS ?? 1),
  rateLimit: rateLimitFromEnv(env.EMULATOR_RATE_LIMIT),
});
const account = emulator.createAccount('Tunnelfleet demo');
const zoneNames = (env.EMULATOR_ZONES ?? 'example.com')
  .split(',')
  .map((name) => name.trim())
  .filter(Boolean);
const zones = Object.fromEntries(zoneNames.map((name) => [name, emulator.createZone(name, account.id).id]));
const token = emulator.createToken({ accountIds: [account.id], zoneNames: 'all', name: 'demo' });
process.stdout.write(
  `${JSON.stringify({ baseUrl: emulator.baseUrl, edgeUrl: emulator.edgeUrl, accountId: account.id, zones, token })}\n`,
);

const stop = () => {
  emulator.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
