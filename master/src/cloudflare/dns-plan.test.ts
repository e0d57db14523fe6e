import { describe, expect, it } from 'vitest';
import {
  type CurrentDnsRecord,
  DNS_COMMENT_PREFIX,
  type DnsZonePlanInput,
  planZone,
  type TunnelCname,
} from './dns-plan.js';

const OWNER = 'agent-a';
const COMMENT = `${DNS_COMMENT_PREFIX}${OWNER}`;
const OTHER_COMMENT = `${DNS_COMMENT_PREFIX}agent-b`;
const TUNNEL = 'tunnel-1';

const cname = (name: string, comment = COMMENT, tunnelId = TUNNEL): TunnelCname => ({
  name,
  type: 'CNAME',
  content: `${tunnelId}.cfargotunnel.com`,
  proxied: true,
  ttl: 1,
  comment,
});

/** A record as Cloudflare holds it: ours and up to date unless the overrides say otherwise. */
const record = (id: string, name: string, overrides: Partial<CurrentDnsRecord> = {}): CurrentDnsRecord => ({
  id,
  ...cname(name),
  ...overrides,
});

function plan(input: Partial<DnsZonePlanInput> & { want?: string[] }) {
  const { want = [], ...rest } = input;
  return planZone({
    owner: OWNER,
    comment: COMMENT,
    desired: new Map(want.map((hostname) => [hostname, { hostname, tunnelId: TUNNEL }])),
    current: [],
    ownedIds: new Set(),
    unsynced: new Set(),
    adopt: false,
    ...rest,
  });
}

/** The calls only, to compare whole plans at once. */
const calls = (p: ReturnType<typeof planZone>) => ({
  deletes: p.deletes,
  patches: p.patches,
  puts: p.puts,
  posts: p.posts,
});
const NO_CALLS = { deletes: [], patches: [], puts: [], posts: [] };

describe('planZone', () => {
  it('creates a proxied CNAME to the tunnel, with our comment, for a hostname that has no record', () => {
    const p = plan({ want: ['app.example.com'] });
    expect(calls(p)).toEqual({
      ...NO_CALLS,
      posts: [{ hostname: 'app.example.com', record: cname('app.example.com') }],
    });
    // The record id is only known once Cloudflare answers the post.
    expect(p.results.get('app.example.com')).toBeUndefined();
  });

  it('makes no call when our record is already what the hostname wants', () => {
    const p = plan({ want: ['app.example.com'], current: [record('r1', 'App.Example.com.')] });
    expect(calls(p)).toEqual(NO_CALLS);
    expect(p.results.get('app.example.com')).toEqual({ status: 'ok', recordId: 'r1' });
  });

  it.each([
    ['points at another tunnel', { content: 'tunnel-old.cfargotunnel.com' }],
    ['is not proxied', { proxied: false }],
    ['has a TTL', { ttl: 300 }],
    ['carries another owner’s marker (the route moved)', { comment: OTHER_COMMENT }],
  ])('rewrites our CNAME in place when it %s', (_what, drift) => {
    const p = plan({ want: ['app.example.com'], current: [record('r1', 'app.example.com', drift)] });
    expect(calls(p)).toEqual({
      ...NO_CALLS,
      patches: [{ id: 'r1', hostname: 'app.example.com', record: cname('app.example.com') }],
    });
    expect(p.results.get('app.example.com')).toEqual({ status: 'ok', recordId: 'r1' });
  });

  it('replaces a marked record of another type with our CNAME', () => {
    const p = plan({
      want: ['app.example.com'],
      current: [record('r1', 'app.example.com', { type: 'A', content: '192.0.2.1' })],
    });
    expect(calls(p)).toEqual({
      ...NO_CALLS,
      puts: [{ id: 'r1', hostname: 'app.example.com', record: cname('app.example.com') }],
    });
  });

  it('deletes a second marked record on a wanted hostname and keeps the first', () => {
    const p = plan({
      want: ['app.example.com'],
      current: [record('r1', 'app.example.com'), record('r2', 'app.example.com', { comment: OTHER_COMMENT })],
    });
    expect(calls(p)).toEqual({ ...NO_CALLS, deletes: [{ id: 'r2', hostname: 'app.example.com' }] });
  });

  it('deletes only the records this owner no longer wants', () => {
    const p = plan({
      want: ['keep.example.com'],
      current: [
        record('keep', 'keep.example.com'),
        record('gone', 'gone.example.com'),
        record('theirs', 'theirs.example.com', { comment: OTHER_COMMENT }),
        record('manual', 'manual.example.com', { comment: 'added by hand' }),
        record('bare', 'bare.example.com', { comment: null }),
      ],
    });
    expect(calls(p)).toEqual({ ...NO_CALLS, deletes: [{ id: 'gone', hostname: 'gone.example.com' }] });
  });

  it('deletes another owner’s marked record when its id was recorded as ours (the route moved here)', () => {
    const p = plan({
      current: [record('moved', 'old.example.com', { comment: OTHER_COMMENT })],
      ownedIds: new Set(['moved']),
    });
    expect(calls(p)).toEqual({ ...NO_CALLS, deletes: [{ id: 'moved', hostname: 'old.example.com' }] });
  });

  it('never touches an unmarked record, even when its id was recorded as ours', () => {
    const p = plan({
      current: [record('hijacked', 'old.example.com', { comment: 'now the operator’s' })],
      ownedIds: new Set(['hijacked']),
    });
    expect(calls(p)).toEqual(NO_CALLS);
  });

  it('keeps our record, without deleting it, while its hostname could not be synced', () => {
    const p = plan({ current: [record('r1', 'app.example.com')], unsynced: new Set(['app.example.com']) });
    expect(calls(p)).toEqual(NO_CALLS);
    expect(p.kept).toEqual([{ hostname: 'app.example.com', recordId: 'r1' }]);
  });

  it('reports a conflict, and makes no call, when a record it does not own holds a wanted hostname', () => {
    const p = plan({
      want: ['app.example.com'],
      current: [record('manual', 'app.example.com', { type: 'A', content: '192.0.2.1', comment: null })],
    });
    expect(calls(p)).toEqual(NO_CALLS);
    expect(p.results.get('app.example.com')).toEqual({
      status: 'conflict',
      message: 'app.example.com already has a record Tunnelfleet does not own (A 192.0.2.1)',
    });
  });

  it('adopts a lone foreign A, AAAA or CNAME record when asked to', () => {
    const p = plan({
      want: ['app.example.com'],
      current: [record('manual', 'app.example.com', { type: 'A', content: '192.0.2.1', comment: null })],
      adopt: true,
    });
    expect(calls(p)).toEqual({
      ...NO_CALLS,
      puts: [{ id: 'manual', hostname: 'app.example.com', record: cname('app.example.com') }],
    });
    expect(p.results.get('app.example.com')).toEqual({ status: 'adopted', recordId: 'manual' });
  });

  it('refuses to adopt when the hostname holds several foreign records or one of another type', () => {
    const several = plan({
      want: ['app.example.com'],
      current: [
        record('a1', 'app.example.com', { type: 'A', content: '192.0.2.1', comment: null }),
        record('a2', 'app.example.com', { type: 'A', content: '192.0.2.2', comment: null }),
      ],
      adopt: true,
    });
    const mx = plan({
      want: ['app.example.com'],
      current: [record('mx', 'app.example.com', { type: 'MX', content: 'mail.example.com', comment: null })],
      adopt: true,
    });
    for (const p of [several, mx]) {
      expect(calls(p)).toEqual(NO_CALLS);
      expect(p.results.get('app.example.com')?.status).toBe('conflict');
      expect(p.results.get('app.example.com')?.message).toContain(
        'adoption needs exactly one A, AAAA or CNAME',
      );
    }
  });
});
