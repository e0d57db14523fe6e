import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_ROUTES } from '@tunnelfleet/common';
import { startRedisServer } from '@tunnelfleet/test';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { startMasterFixture } from '../../test/master-test-fixture.js';

it('uses a password-protected Redis through REDIS_PASSWORD_FILE, with no password in REDIS_URL', async () => {
  const redis = await startRedisServer();
  const password = 'pw-from-a-docker-secret-0123456789';
  const admin = new Redis(redis.url);
  await admin.config('SET', 'requirepass', password);
  const anonymous = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  anonymous.on('error', () => {});
  await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
  anonymous.disconnect();

  const dir = mkdtempSync(join(tmpdir(), 'tunnelfleet-redis-password-'));
  const passwordFile = join(dir, 'redis_password');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  const fx = await startMasterFixture({ redis, env: { REDIS_PASSWORD_FILE: passwordFile } });
  try {
    const ready = await fx.request('GET', '/readyz');
    expect(ready.body.checks.redis).toEqual({ ok: true });
    // Registration queues start_tunnel through BullMQ: the gateway's connections authenticate too.
    const agent = await fx.enrollAgent({ name: 'password-host' });
    const poll = await fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=5`, { token: agent.key });
    expect(poll.status).toBe(200);
    expect(poll.body.command.type).toBe('start_tunnel');
  } finally {
    await fx.close();
    admin.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
