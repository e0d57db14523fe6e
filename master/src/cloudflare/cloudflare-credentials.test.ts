import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestWorld, type TestWorld } from '../../test/cloudflare-test-world.js';
import { createCredentials } from './cloudflare-credentials.js';
import {
  CloudflarePermissionError,
  InvalidCredentialsConfigError,
  toLayerError,
  ZoneNotFoundError,
} from './errors.js';

describe('credentials: token choice and zone resolution', () => {
  let world: TestWorld;
  let comToken: string;
  let shopToken: string;

  beforeAll(async () => {
    world = await startTestWorld(['example.com', 'shop.example.com', 'example.org']);
    comToken = world.emulator.createToken({
      accountIds: [world.accountId],
      zoneNames: ['example.com'],
      name: 'com',
    });
    shopToken = world.emulator.createToken({
      accountIds: [world.accountId],
      zoneNames: ['shop.example.com'],
      name: 'shop',
    });
  });
  afterAll(async () => {
    expect(world.emulator.specViolations()).toEqual([]);
    await world.close();
  });

  const creds = () =>
    world.credentials({
      tokens: [
        { token: comToken, zones: ['example.com', 'example.net'], name: 'com' },
        { token: shopToken, zones: ['shop.example.com'], name: 'shop' },
      ],
    });

  it('picks the token of the longest matching zone, a named zone, else the default token', async () => {
    const c = creds();
    expect(c.tokenFor('a.shop.example.com').name).toBe('shop');
    expect(c.tokenFor('a.example.com').name).toBe('com');
    expect(c.tokenFor('a.example.org').name).toBe('default');
    expect(c.tokenFor('a.shop.example.com', 'example.com').name).toBe('com');

    expect(await c.resolveZone('deep.a.shop.example.com')).toMatchObject({ zoneName: 'shop.example.com' });
    expect((await c.resolveZone('Deep.Example.COM.')).zoneName).toBe('example.com');
    expect((await c.resolveZone('x.example.org')).token.name).toBe('default');
    const named = await c.resolveZone('a.shop.example.com', 'example.com');
    expect(named).toMatchObject({ zoneName: 'example.com' });
    expect(named.token.name).toBe('com');
  });

  it('caches zone lists per token until invalidated', async () => {
    const c = creds();
    await c.resolveZone('a.example.com');
    world.emulator.clearCalls();
    await c.resolveZone('b.example.com');
    expect(world.emulator.calls()).toEqual([]);
    c.invalidateZones('com');
    await c.resolveZone('b.example.com');
    expect(world.emulator.calls().map((call) => `${call.method} ${call.path.replace(/\?.*/, '')}`)).toEqual([
      'GET /client/v4/zones',
    ]);
  });

  it('names the hostname and token when the token cannot see the zone', async () => {
    const error = await creds()
      .resolveZone('www.example.net')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ZoneNotFoundError);
    expect((error as Error).message).toContain('www.example.net');
    expect((error as Error).message).toContain('"com"');
    expect((error as Error).message).toContain('example.com');
  });

  it('turns a 403 for a zone outside the token scope into a permission error naming the token', async () => {
    const c = creds();
    const org = await c.resolveZone('x.example.org');
    const com = c.tokenFor('a.example.com');
    const error = await com.client.dns.records.list({ zone_id: org.zoneId }).then(
      () => undefined,
      (e: unknown) => toLayerError(e, com.name, 'list records of example.org'),
    );
    expect(error).toBeInstanceOf(CloudflarePermissionError);
    expect((error as Error).message).toMatch(/token "com" may not list records of example.org \(HTTP 403\)/);
  });

  it('refuses a configuration that gives one zone to two tokens', () => {
    expect(() =>
      createCredentials({
        accountId: world.accountId,
        defaultToken: world.defaultToken,
        tokens: [
          { token: comToken, zones: ['example.com'], name: 'a' },
          { token: shopToken, zones: ['EXAMPLE.com'], name: 'b' },
        ],
      }),
    ).toThrow(InvalidCredentialsConfigError);
  });
});
