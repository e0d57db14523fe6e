import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type EmulatorWorld, emulatorWithWorld } from './test-support.js';

describe('DNS records', () => {
  let w: EmulatorWorld;
  let base: string;
  beforeEach(async () => {
    w = await emulatorWithWorld();
    base = `/zones/${w.zone.id}/dns_records`;
  });
  afterEach(() => w.emulator.close());

  const cname = (name: string, extra: Record<string, unknown> = {}) => ({
    type: 'CNAME',
    name,
    content: 'abc.cfargotunnel.com',
    proxied: true,
    ttl: 1,
    ...extra,
  });

  it('creates, reads, replaces, patches and deletes a record', async () => {
    const created = await w.api('POST', base, cname('app', { comment: 'tunnelfleet' }));
    expect(created.status).toBe(200);
    expect(created.body.result).toMatchObject({
      name: 'app.example.com',
      type: 'CNAME',
      proxied: true,
      ttl: 1,
    });
    const id = created.body.result.id;
    expect((await w.api('GET', `${base}/${id}`)).body.result.comment).toBe('tunnelfleet');
    const replaced = await w.api(
      'PUT',
      `${base}/${id}`,
      cname('app.example.com', { content: 'def.cfargotunnel.com' }),
    );
    expect(replaced.body.result).toMatchObject({ content: 'def.cfargotunnel.com', comment: '' });
    const patched = await w.api('PATCH', `${base}/${id}`, { comment: 'ours' });
    expect(patched.body.result).toMatchObject({ content: 'def.cfargotunnel.com', comment: 'ours' });
    expect((await w.api('DELETE', `${base}/${id}`)).body.result).toEqual({ id });
    const gone = await w.api('GET', `${base}/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.errors[0]).toEqual({ code: 81044, message: 'Record does not exist.' });
    expect(gone.body.result).toBeNull();
  });

  it('refuses a CNAME beside other records and identical records, with the live codes', async () => {
    await w.api('POST', base, { type: 'A', name: 'host', content: '192.0.2.1', ttl: 1 });
    const beside = await w.api('POST', base, cname('host'));
    expect(beside.status).toBe(400);
    expect(beside.body.errors[0]?.code).toBe(81053);
    await w.api('POST', base, cname('alias'));
    const txt = await w.api('POST', base, { type: 'TXT', name: 'alias', content: 'hello', ttl: 1 });
    expect(txt.body.errors[0]?.code).toBe(81054);
    const same = await w.api('POST', base, { type: 'A', name: 'host', content: '192.0.2.1', ttl: 1 });
    expect(same.body.errors[0]?.code).toBe(81058);
    const second = await w.api('POST', base, { type: 'A', name: 'host', content: '192.0.2.2', ttl: 1 });
    expect(second.status).toBe(200);
  });

  it('validates names, content, ttl, proxied and the comment length', async () => {
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ type: 'A', name: 'bad name', content: '192.0.2.1', ttl: 1 }, 9000],
      [{ type: 'A', name: 'x', content: 'not-an-ip', ttl: 1 }, 1004],
      [{ type: 'A', name: 'x', content: '192.0.2.1', ttl: 30 }, 1004],
      [{ type: 'TXT', name: 'x', content: 'v', ttl: 1, proxied: true }, 1004],
      [{ type: 'BOGUS', name: 'x', content: 'v', ttl: 1 }, 1004],
      [cname('x', { comment: 'c'.repeat(101) }), 1004],
      [cname('x', { tags: ['owner:me'] }), 1004],
    ];
    for (const [body, code] of cases) {
      const reply = await w.api('POST', base, body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body.errors[0]?.code, JSON.stringify(body)).toBe(code);
    }
    expect((await w.api('POST', base, cname('x', { comment: 'c'.repeat(100) }))).status).toBe(200);
    expect(w.emulator.dnsRecords(w.zone.id)).toHaveLength(1);
  });

  it('filters by name, type, content and comment, with match=any', async () => {
    w.emulator.seedDnsRecord(w.zone.id, cname('a', { comment: 'tunnelfleet:abc' }));
    w.emulator.seedDnsRecord(w.zone.id, cname('b'));
    w.emulator.seedDnsRecord(w.zone.id, {
      type: 'A',
      name: 'c',
      content: '192.0.2.9',
      ttl: 1,
      comment: 'manual',
    });
    const names = async (query: string) =>
      (await w.api('GET', `${base}?${query}`)).body.result.map((r: { name: string }) => r.name).sort();
    expect(await names('name=a.example.com')).toEqual(['a.example.com']);
    expect(await names('name.exact=b.example.com')).toEqual(['b.example.com']);
    expect(await names('name.endswith=.example.com&type=A')).toEqual(['c.example.com']);
    expect(await names('content=192.0.2.9')).toEqual(['c.example.com']);
    expect(await names('comment.startswith=tunnelfleet')).toEqual(['a.example.com']);
    expect(await names('comment.contains=anu')).toEqual(['c.example.com']);
    expect(await names('comment.exact=manual')).toEqual(['c.example.com']);
    expect(await names('comment.present=true')).toEqual(['a.example.com', 'c.example.com']);
    expect(await names('comment.absent=true')).toEqual(['b.example.com']);
    expect(await names('match=any&name=a.example.com&type=A')).toEqual(['a.example.com', 'c.example.com']);
  });

  it('paginates with result_info and an empty page past the end', async () => {
    for (let i = 0; i < 7; i++) w.emulator.seedDnsRecord(w.zone.id, cname(`h${i}`));
    const first = await w.api('GET', `${base}?per_page=3&page=1`);
    expect(first.body.result_info).toEqual({
      page: 1,
      per_page: 3,
      count: 3,
      total_count: 7,
      total_pages: 3,
    });
    const last = await w.api('GET', `${base}?per_page=3&page=3`);
    expect(last.body.result).toHaveLength(1);
    const past = await w.api('GET', `${base}?per_page=3&page=4`);
    expect(past.body.result).toEqual([]);
    const all = [first, await w.api('GET', `${base}?per_page=3&page=2`), last].flatMap((p) => p.body.result);
    expect(new Set(all.map((r: { id: string }) => r.id)).size).toBe(7);
  });

  it('applies a batch in order deletes, patches, puts, posts', async () => {
    const old = w.emulator.seedDnsRecord(w.zone.id, cname('old'));
    const keep = w.emulator.seedDnsRecord(w.zone.id, cname('keep'));
    const reply = await w.api('POST', `${base}/batch`, {
      deletes: [{ id: old.id }],
      patches: [{ id: keep.id, comment: 'patched' }],
      // Posting `old` again only works because the delete ran first.
      posts: [cname('old', { content: 'new.cfargotunnel.com' }), cname('fresh')],
    });
    expect(reply.status).toBe(200);
    expect(reply.body.result.deletes.map((r: { id: string }) => r.id)).toEqual([old.id]);
    expect(reply.body.result.patches[0].comment).toBe('patched');
    expect(reply.body.result.posts).toHaveLength(2);
    const names = w.emulator.dnsRecords(w.zone.id).map((r) => `${r.name}=${r.content}`);
    expect(names.sort()).toEqual([
      'fresh.example.com=abc.cfargotunnel.com',
      'keep.example.com=abc.cfargotunnel.com',
      'old.example.com=new.cfargotunnel.com',
    ]);
  });

  it('rolls the whole batch back when one operation fails', async () => {
    const doomed = w.emulator.seedDnsRecord(w.zone.id, cname('doomed'));
    w.emulator.seedDnsRecord(w.zone.id, { type: 'A', name: 'taken', content: '192.0.2.1', ttl: 1 });
    w.emulator.seedDnsRecord(w.otherZone.id, cname('elsewhere'));
    const before = w.emulator.dnsRecords();
    const reply = await w.api('POST', `${base}/batch`, {
      deletes: [{ id: doomed.id }],
      posts: [cname('fine'), cname('taken')],
    });
    expect(reply.status).toBe(400);
    expect(reply.body.errors[0]?.code).toBe(81053);
    // Every zone as it was, in its order, and the deleted record found by id again.
    expect(w.emulator.dnsRecords()).toEqual(before);
    expect((await w.api('GET', `${base}/${doomed.id}`)).body.result).toMatchObject({ id: doomed.id });
  });

  it('hides zones outside the token scope', async () => {
    const narrow = w.emulator.createToken({
      accountIds: [w.account.id],
      zoneNames: ['example.org'],
      name: 'narrow',
    });
    const denied = await w.api('GET', base, undefined, narrow);
    expect(denied.status).toBe(403);
    expect(denied.body.errors[0]?.code).toBe(10000);
    const zones = await w.api('GET', '/zones', undefined, narrow);
    expect(zones.body.result.map((z: { name: string }) => z.name)).toEqual(['example.org']);
    expect((await w.api('GET', `/zones/${w.otherZone.id}/dns_records`, undefined, narrow)).status).toBe(200);
  });
});
