import {
  createCloudflareAccount,
  type MasterProcess,
  startCloudflareEmulator,
  startMasterProcess,
  startRedisServer,
} from '@tunnelfleet/test';

/**
 * The real master as its own process (the harness's `startMasterProcess`, which keeps its port
 * across `stop`/`start`) with a private redis-server and the Cloudflare emulator; `close` stops
 * all three. `env` overrides the master's variables (e.g. `CLOUDFLARED_IMAGE`).
 */
export async function startTestMaster(
  options: { env?: Record<string, string> } = {},
): Promise<MasterProcess> {
  const redis = await startRedisServer();
  const emulator = await startCloudflareEmulator();
  const stopBackends = async () => {
    await emulator.close();
    await redis.stop();
  };
  try {
    const master = await startMasterProcess({
      redisUrl: redis.url,
      cloudflare: createCloudflareAccount(emulator, []),
      ...(options.env ? { env: options.env } : {}),
    });
    return {
      ...master,
      async close() {
        await master.close();
        await stopBackends();
      },
    };
  } catch (error) {
    await stopBackends();
    throw error;
  }
}
