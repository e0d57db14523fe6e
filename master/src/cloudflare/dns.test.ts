import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestWorld, type TestWorld } from '../../test/cloudflare-test-world.js';
import type { CloudflareLayer } from './cloudflare-layer.js';
import { DNS_COMMENT_PREFIX, type OwnedDnsRecord } from './dns-plan.js';

const TUNNEL_A = '11111111-1111-4111-8111-111111111111';
const TUNNEL_B = '22222222-2222-4222-8222-222222222222';

describe('DNS sync against the emulator', () => {
  let world: TestWorld;
  let layer: CloudflareLayer;

  beforeAll(async () => {
    world = await startTestWorld(['example.com', 'example.org']);
    layer = world.layer();
  });
  afterAll(async () => {
    expect(world.emulator.specViolations()).toEqual([]);
    await world.close();
  });

  const records = (zone: string, name?: string) =>
    world.emulator.dnsRecords(zone).filter((r) => name === undefined || r.name === name);
  const dnsWrites = () => world.emulator.writes().filter((c) => c.path.includes('/dns_records'));

  it('syncs many owners of a zone with one read and one batch, and a record that moves owner is taken over, not deleted', async () => {
    const owners = Array.from({ length: 50 }, (_, i) => `fleet-${i}`);
    world.emulator.clearCalls();
    const first = await layer.syncDnsOwners(
      owners.map((owner, i) => ({
        owner,
        owned: [],
        desired: [
          { hostname: `a${i}.fleet.example.org`, tunnelId: TUNNEL_A },
          { hostname: `b${i}.fleet.example.org`, tunnelId: TUNNEL_A },
        ],
      })),
    );
    expect(first.every((r) => Object.values(r.hostnames).every((h) => h.status === 'ok'))).toBe(true);
    const calls = world.emulator.calls().filter((c) => c.path.includes('/dns_records'));
    // The whole zone read once (one page), every owner's records created in one batch.
    expect(calls.map((c) => `${c.method} ${c.route?.split('/').at(-1)}`)).toEqual([
      'GET dns_records',
      'POST batch',
    ]);
    expect(records('example.org').filter((r) => String(r.name).endsWith('.fleet.example.org'))).toHaveLength(
      100,
    );

    // b0 moves from fleet-0 to fleet-1 (the route moved agent) in the same pass.
    const moved = await layer.syncDnsOwners([
      {
        owner: 'fleet-0',
        owned: first[0]!.owned,
        desired: [{ hostname: 'a0.fleet.example.org', tunnelId: TUNNEL_A }],
      },
      {
        owner: 'fleet-1',
        owned: first[1]!.owned,
        desired: [
          { hostname: 'a1.fleet.example.org', tunnelId: TUNNEL_A },
          { hostname: 'b1.fleet.example.org', tunnelId: TUNNEL_A },
          { hostname: 'b0.fleet.example.org', tunnelId: TUNNEL_B },
        ],
      },
    ]);
    const [b0] = records('example.org', 'b0.fleet.example.org');
    expect(b0).toMatchObject({
      content: `${TUNNEL_B}.cfargotunnel.com`,
      comment: `${DNS_COMMENT_PREFIX}fleet-1`,
    });
    expect(moved[0]!.deleted).toEqual([]);
    expect(moved[0]!.owned.map((o) => o.hostname)).toEqual(['a0.fleet.example.org']);
    expect(moved[1]!.owned.map((o) => o.hostname).sort()).toEqual([
      'a1.fleet.example.org',
      'b0.fleet.example.org',
      'b1.fleet.example.org',
    ]);
    await layer.syncDnsOwners(
      first.map((r, i) => ({
        owner: owners[i]!,
        owned: [...r.owned, ...(i === 1 ? moved[1]!.owned : [])],
        desired: [],
      })),
    );
    expect(records('example.org').filter((r) => String(r.name).endsWith('.fleet.example.org'))).toEqual([]);
  });

  it("limited to a change's names, reads and changes those names only, and the rest of the zone stays byte for byte", async () => {
    const owner = 'scoped-1';
    const names = ['s1', 's2', 's3', 's4'].map((n) => `${n}.scoped.example.org`);
    const first = await layer.syncDnsOwners([
      { owner, owned: [], desired: names.map((hostname) => ({ hostname, tunnelId: TUNNEL_A })) },
    ]);
    const scoped = () => records('example.org').filter((r) => String(r.name).endsWith('.scoped.example.org'));
    const others = () => scoped().filter((r) => r.name !== 's1.scoped.example.org');
    const before = JSON.stringify(others());
    world.emulator.clearCalls();

    // s1 moves tunnel; the owner's wanted set names s1 only, as a change sync gives it: s2 to s4
    // are neither wanted nor looked at, so they are not deleted.
    const changed = await layer.syncDnsOwners(
      [{ owner, owned: [], desired: [{ hostname: 's1.scoped.example.org', tunnelId: TUNNEL_B }] }],
      new Set(['s1.scoped.example.org']),
    );
    expect(changed[0]!.hostnames).toEqual({
      's1.scoped.example.org': { status: 'ok', recordId: expect.any(String) },
    });
    expect(records('example.org', 's1.scoped.example.org')).toEqual([
      expect.objectContaining({ content: `${TUNNEL_B}.cfargotunnel.com` }),
    ]);
    expect(JSON.stringify(others())).toBe(before);
    // One read by the name, not of the zone, and one batch.
    const calls = world.emulator.calls().filter((c) => c.path.includes('/dns_records'));
    const asked = (c: (typeof calls)[number]) => new URLSearchParams(c.query).get('name.exact');
    expect(calls.map((c) => `${c.method} ${c.route?.split('/').at(-1)} ${asked(c) ?? ''}`.trim())).toEqual([
      'GET dns_records s1.scoped.example.org',
      'POST batch',
    ]);

    // A name the owner no longer wants, in the sync's names: its record goes, the others stay.
    const s2 = first[0]!.owned.find((o) => o.hostname === 's2.scoped.example.org')!;
    await layer.syncDnsOwners([{ owner, owned: [s2], desired: [] }], new Set(['s2.scoped.example.org']));
    expect(
      scoped()
        .map((r) => r.name)
        .sort(),
    ).toEqual(['s1.scoped.example.org', 's3.scoped.example.org', 's4.scoped.example.org']);

    // Wanting a name outside the sync's names is refused before any call: it would be written
    // without the records already on it being read.
    world.emulator.clearCalls();
    await expect(
      layer.syncDnsOwners(
        [{ owner, owned: [], desired: [{ hostname: 's3.scoped.example.org', tunnelId: TUNNEL_B }] }],
        new Set(['s1.scoped.example.org']),
      ),
    ).rejects.toThrow(/s3.scoped.example.org is wanted by a sync limited to other names/);
    expect(world.emulator.calls()).toEqual([]);

    await layer.syncDnsOwners([{ owner, owned: changed[0]!.owned.concat(first[0]!.owned), desired: [] }]);
    expect(scoped()).toEqual([]);
  });

  it('creates, fixes drift, deletes its own records and never touches foreign ones', async () => {
    world.emulator.seedDnsRecord('example.com', {
      type: 'A',
      name: 'www.example.com',
      content: '192.0.2.1',
      ttl: 1,
    });
    world.emulator.seedDnsRecord('example.com', {
      type: 'TXT',
      name: 'example.com',
      content: '"v=spf1 -all"',
      ttl: 3600,
    });
    const foreignBefore = records('example.com');

    const created = await layer.syncDnsRecords({
      owner: 'agent-1',
      owned: [],
      desired: [
        { hostname: 'app.example.com', tunnelId: TUNNEL_A },
        { hostname: 'api.example.org', tunnelId: TUNNEL_A },
      ],
    });
    expect(created.hostnames['app.example.com']?.status).toBe('ok');
    expect(created.hostnames['api.example.org']?.status).toBe('ok');
    const [app] = records('example.com', 'app.example.com');
    expect(app).toMatchObject({
      type: 'CNAME',
      content: `${TUNNEL_A}.cfargotunnel.com`,
      proxied: true,
      ttl: 1,
      comment: `${DNS_COMMENT_PREFIX}agent-1`,
    });
    expect(created.owned.map((o) => o.hostname).sort()).toEqual(['api.example.org', 'app.example.com']);

    // Drift: someone points our record elsewhere; the next sync puts it back.
    world.emulator.clearCalls();
    const drift = await layer.syncDnsRecords({
      owner: 'agent-1',
      owned: created.owned,
      desired: [
        { hostname: 'app.example.com', tunnelId: TUNNEL_B },
        { hostname: 'api.example.org', tunnelId: TUNNEL_A },
      ],
    });
    expect(drift.hostnames['app.example.com']).toEqual({ status: 'ok', recordId: app!.id });
    expect(records('example.com', 'app.example.com')[0]?.content).toBe(`${TUNNEL_B}.cfargotunnel.com`);
    expect(dnsWrites()).toHaveLength(1);

    const removed = await layer.syncDnsRecords({
      owner: 'agent-1',
      owned: drift.owned,
      desired: [{ hostname: 'api.example.org', tunnelId: TUNNEL_A }],
    });
    expect(removed.deleted.map((d) => d.hostname)).toEqual(['app.example.com']);
    expect(records('example.com', 'app.example.com')).toEqual([]);
    expect(records('example.org', 'api.example.org')).toHaveLength(1);

    const emptied = await layer.syncDnsRecords({ owner: 'agent-1', owned: removed.owned, desired: [] });
    expect(emptied.owned).toEqual([]);
    expect(records('example.org')).toEqual([]);
    expect(records('example.com')).toEqual(foreignBefore);
  });

  it('reports a foreign record on a wanted hostname as a conflict, and adopts it only when allowed', async () => {
    const foreign = world.emulator.seedDnsRecord('example.com', {
      type: 'CNAME',
      name: 'shop.example.com',
      content: 'shops.example.net',
      proxied: false,
      ttl: 300,
    });
    const desired = [{ hostname: 'shop.example.com', tunnelId: TUNNEL_A }];
    const conflict = await layer.syncDnsRecords({ owner: 'agent-2', owned: [], desired });
    expect(conflict.hostnames['shop.example.com']?.status).toBe('conflict');
    expect(conflict.hostnames['shop.example.com']?.message).toContain('shops.example.net');
    expect(conflict.owned).toEqual([]);
    expect(records('example.com', 'shop.example.com')).toEqual([foreign]);

    // Our deletions never reach a foreign record, even one whose id we were told we own.
    const notOurs = await layer.syncDnsRecords({
      owner: 'agent-2',
      owned: [{ hostname: 'shop.example.com', recordId: String(foreign.id) }],
      desired: [],
    });
    expect(notOurs.deleted).toEqual([]);
    expect(records('example.com', 'shop.example.com')).toEqual([foreign]);

    const adopted = await layer.syncDnsRecords({ owner: 'agent-2', owned: [], desired, adopt: true });
    expect(adopted.hostnames['shop.example.com']).toEqual({ status: 'adopted', recordId: foreign.id });
    expect(records('example.com', 'shop.example.com')[0]).toMatchObject({
      id: foreign.id,
      type: 'CNAME',
      content: `${TUNNEL_A}.cfargotunnel.com`,
      proxied: true,
      comment: `${DNS_COMMENT_PREFIX}agent-2`,
    });
    await layer.syncDnsRecords({ owner: 'agent-2', owned: adopted.owned, desired: [] });
  });

  it('leaves records of other owners alone', async () => {
    const other = await layer.syncDnsRecords({
      owner: 'agent-3',
      owned: [],
      desired: [{ hostname: 'three.example.com', tunnelId: TUNNEL_A }],
    });
    const mine = await layer.syncDnsRecords({
      owner: 'agent-4',
      owned: [],
      desired: [{ hostname: 'four.example.com', tunnelId: TUNNEL_B }],
    });
    await layer.syncDnsRecords({ owner: 'agent-4', owned: mine.owned, desired: [] });
    expect(records('example.com', 'four.example.com')).toEqual([]);
    expect(records('example.com', 'three.example.com')).toHaveLength(1);
    await layer.syncDnsRecords({ owner: 'agent-3', owned: other.owned, desired: [] });
  });

  it('writes 100 new hostnames in at most 2 calls, and a sync that changes nothing writes nothing', async () => {
    const desired = Array.from({ length: 100 }, (_, i) => ({
      hostname: `burst-${i}.example.com`,
      tunnelId: TUNNEL_A,
    }));
    world.emulator.clearCalls();
    const first = await layer.syncDnsRecords({ owner: 'agent-5', owned: [], desired });
    expect(Object.values(first.hostnames).every((r) => r.status === 'ok')).toBe(true);
    expect(first.owned).toHaveLength(100);
    expect(dnsWrites().length).toBeLessThanOrEqual(2);
    expect(records('example.com').filter((r) => String(r.name).startsWith('burst-'))).toHaveLength(100);

    world.emulator.clearCalls();
    const again: { owned: OwnedDnsRecord[] } = await layer.syncDnsRecords({
      owner: 'agent-5',
      owned: first.owned,
      desired,
    });
    expect(world.emulator.writes()).toEqual([]);
    expect(again.owned.length).toBe(100);

    world.emulator.clearCalls();
    await layer.syncDnsRecords({ owner: 'agent-5', owned: again.owned, desired: [] });
    expect(dnsWrites().length).toBeLessThanOrEqual(2);
    expect(records('example.com').filter((r) => String(r.name).startsWith('burst-'))).toEqual([]);
  });

  it('reports a hostname it cannot place as an error and keeps its existing record', async () => {
    const first = await layer.syncDnsRecords({
      owner: 'agent-7',
      owned: [],
      desired: [{ hostname: 'kept.example.com', tunnelId: TUNNEL_A }],
    });
    const broken = await layer.syncDnsRecords({
      owner: 'agent-7',
      owned: first.owned,
      desired: [{ hostname: 'kept.example.com', tunnelId: TUNNEL_A, zone: 'example.net' }],
    });
    expect(broken.hostnames['kept.example.com']?.status).toBe('error');
    expect(broken.hostnames['kept.example.com']?.message).toContain('kept.example.com');
    expect(broken.deleted).toEqual([]);
    expect(broken.owned).toEqual(first.owned);
    expect(records('example.com', 'kept.example.com')).toHaveLength(1);
    await layer.syncDnsRecords({ owner: 'agent-7', owned: broken.owned, desired: [] });
  });

  it('splits a sync larger than the batch limit', async () => {
    const small = world.layer({ dns: { batchLimit: 30 } });
    const desired = Array.from({ length: 70 }, (_, i) => ({
      hostname: `split-${i}.example.org`,
      tunnelId: TUNNEL_A,
    }));
    world.emulator.clearCalls();
    const result = await small.syncDnsRecords({ owner: 'agent-6', owned: [], desired });
    expect(result.owned).toHaveLength(70);
    expect(dnsWrites()).toHaveLength(3);
    await small.syncDnsRecords({ owner: 'agent-6', owned: result.owned, desired: [] });
  });
});
