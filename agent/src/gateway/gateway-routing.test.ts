import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { RoutingTableInput } from '@tunnelfleet/common';
import { request } from 'undici';
import { describe, expect, it, vi } from 'vitest';
import { useGatewayHarness } from '../../test/gateway-harness.js';
import type { TestBackend } from '../../test/test-backend.js';

const { cleanups, gateway, backend, api, push, get, send, metrics } = useGatewayHarness();

type Route = RoutingTableInput['routes'][number];
const HOST = 'app.example.com';

/** One backend per name, and a route to each: `routes` gives each its match. */
async function backends(names: string[]): Promise<Record<string, TestBackend>> {
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await backend(n)] as const)));
}

/** A gateway with one route `r` for HOST to backend `a`, with `extra` fields. */
async function single(extra: Partial<Route> = {}) {
  const gw = await gateway();
  const a = await backend('a');
  await push(gw, { version: 1, routes: [{ id: 'r', hostname: HOST, backend: { url: a.url }, ...extra }] });
  return { gw, a };
}

/** A loopback port nothing listens on (a backend's, closed): a stopped container. */
async function closedPort(): Promise<number> {
  const placeholder = await backend('placeholder');
  await placeholder.close();
  return Number(new URL(placeholder.url).port);
}

/** A backend started on `port`, answering 200 with `x-backend: <name>` (one request a connection). */
async function answerOn(port: number, name: string): Promise<void> {
  const server = createServer((socket: Socket) => {
    socket.once('data', () =>
      socket.end(`HTTP/1.1 200 OK\r\nx-backend: ${name}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`),
    );
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
}

const served = (answer: { headers: Record<string, unknown> }) => answer.headers['x-backend'];

describe('matching and precedence', () => {
  it('ranks exact path, longest path, method, more headers, more query parameters, then route id', async () => {
    const gw = await gateway();
    const names = [
      'plain',
      'query2',
      'header1',
      'header2',
      'method',
      'prefix',
      'exact',
      'regex',
      'tieA',
      'tieB',
    ];
    const b = await backends(names);
    const route = (id: string, extra: Partial<Route>): Route => ({
      id,
      hostname: HOST,
      backend: { url: b[id]!.url },
      ...extra,
    });
    await push(gw, {
      version: 1,
      routes: [
        route('plain', {}),
        route('query2', {
          match: {
            query: [
              { name: 'v', type: 'exact', value: '2' },
              { name: 'beta', type: 'regex', value: '^(yes|1)$' },
            ],
          },
        }),
        route('header1', { match: { headers: [{ name: 'X-Env', type: 'exact', value: 'canary' }] } }),
        route('header2', {
          match: {
            headers: [
              { name: 'x-env', type: 'exact', value: 'canary' },
              { name: 'x-user', type: 'regex', value: '^admin-[0-9]+$' },
            ],
          },
        }),
        route('method', { match: { method: 'POST' } }),
        route('prefix', { path: { type: 'prefix', value: '/api' } }),
        route('exact', { path: { type: 'exact', value: '/api/ping' }, match: { method: 'GET' } }),
        route('regex', { path: { type: 'regex', value: '^/api/items/[0-9]+$' } }),
        // Same path and match, different ids: not a group (their matches differ by a method only
        // in one of them), so the lower id wins the tie.
        route('tieB', {
          path: { type: 'prefix', value: '/tie' },
          match: { query: [{ name: 'a', type: 'exact', value: '1' }] },
        }),
        route('tieA', {
          path: { type: 'prefix', value: '/tie' },
          match: { query: [{ name: 'b', type: 'exact', value: '1' }] },
        }),
      ],
    });
    const all = { 'x-env': 'canary', 'x-user': 'admin-7' };
    // Nothing special: the catch-all.
    expect(served(await get(gw, HOST, '/'))).toBe('plain');
    // Query matches alone.
    expect(served(await get(gw, HOST, '/?v=2&beta=yes'))).toBe('query2');
    expect(served(await get(gw, HOST, '/?v=2&beta=no'))).toBe('plain');
    // One header match beats two query matches.
    expect(served(await get(gw, HOST, '/?v=2&beta=1', { 'x-env': 'canary' }))).toBe('header1');
    // Two header matches beat one; a header that does not match the regex does not count.
    expect(served(await get(gw, HOST, '/', all))).toBe('header2');
    expect(served(await get(gw, HOST, '/', { ...all, 'x-user': 'admin-x' }))).toBe('header1');
    // A method match beats any number of header matches.
    expect(served(await send(gw, HOST, '/?v=2&beta=1', { method: 'POST', headers: all }))).toBe('method');
    // A longer path beats a method match.
    expect(served(await send(gw, HOST, '/api/x', { method: 'POST', headers: all }))).toBe('prefix');
    // An exact path beats a longer regex; with its method only.
    expect(served(await get(gw, HOST, '/api/ping', all))).toBe('exact');
    expect(served(await send(gw, HOST, '/api/ping', { method: 'DELETE' }))).toBe('prefix');
    // A regex longer than the prefix ranks before it; one that does not match falls to the prefix.
    expect(served(await get(gw, HOST, '/api/items/42'))).toBe('regex');
    expect(served(await get(gw, HOST, '/api/items/42/x'))).toBe('prefix');
    // Equal rank: the lower route id.
    expect(served(await get(gw, HOST, '/tie?a=1&b=1'))).toBe('tieA');
    expect(served(await get(gw, HOST, '/tie?a=1'))).toBe('tieB');
  });

  it('matches a regex in linear time: a catastrophic pattern against a long path answers at once', async () => {
    const gw = await gateway();
    const a = await backend('a');
    await push(gw, {
      version: 1,
      routes: [
        { id: 'evil', hostname: HOST, path: { type: 'regex', value: '^/(a|a)*$' }, backend: { url: a.url } },
        {
          id: 'evil-header',
          hostname: 'h.example.com',
          match: { headers: [{ name: 'x-q', type: 'regex', value: '^(x+x+)+y$' }] },
          backend: { url: a.url },
        },
      ],
    });
    // With a backtracking engine each of these takes longer than the age of the universe.
    const path = `/${'a'.repeat(5_000)}!`;
    expect((await get(gw, HOST, path)).status).toBe(404);
    expect((await get(gw, 'h.example.com', '/', { 'x-q': `${'x'.repeat(5_000)}z` })).status).toBe(404);
    expect(served(await get(gw, HOST, `/${'a'.repeat(5_000)}`))).toBe('a');
  });

  it('refuses a route whose regex RE2 cannot run, naming the field, and serves the rest', async () => {
    const gw = await gateway();
    const a = await backend('a');
    const cases: [unknown, RegExp][] = [
      [{ type: 'regex', value: '^/(a)\\1' }, /path\.value: .*backreference/],
      [{ type: 'regex', value: '^/(?=x)' }, /path\.value: .*lookahead/],
      [{ type: 'regex', value: '^/(?i:x)' }, /inline flags/],
      [{ type: 'regex', value: '^/(' }, /not a valid regular expression/],
    ];
    let version = 0;
    for (const [path, message] of cases) {
      const answer = await api(gw, 'PUT', '/config', {
        version: ++version,
        routes: [
          { id: 'r', hostname: HOST, path, backend: { url: a.url } },
          { id: 'fine', hostname: 'fine.example.com', backend: { url: a.url } },
        ],
      });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ version, routes: 1 });
      expect(answer.body.refused).toEqual([
        {
          id: 'r',
          code: expect.stringMatching(/^invalid_(route|regex)$/),
          message: expect.stringMatching(message),
        },
      ]);
      expect(served(await get(gw, 'fine.example.com'))).toBe('a');
    }
    const badHeader = await api(gw, 'PUT', '/config', {
      version: ++version,
      routes: [
        {
          id: 'r',
          hostname: HOST,
          match: { headers: [{ name: 'bad header', type: 'exact', value: 'x' }], method: 'get' },
          backend: { url: a.url },
        },
      ],
    });
    expect(badHeader.body.refused[0]?.message).toMatch(
      /match\.headers\[0\]\.name: must be an HTTP header name/,
    );
    expect(badHeader.body.refused[0]?.message).toMatch(/match\.method: must be an upper-case HTTP method/);
  });

  it('matches a case-insensitive regex from a leading (?i)', async () => {
    const { gw } = await single({
      path: { type: 'regex', value: '(?i)^/Docs/[a-c]\\w(?P<n>x)' },
    });
    expect((await get(gw, HOST, '/DOCS/B_X')).status).toBe(200);
    expect((await get(gw, HOST, '/docs/c1x')).status).toBe(200);
    expect((await get(gw, HOST, '/docs/d1x')).status).toBe(404);
    expect((await get(gw, HOST, '/other')).status).toBe(404);
  });
});

describe('groups and weights', () => {
  const group = (members: { id: string; url: string; weight?: number }[]): Route[] =>
    members.map(({ id, url, weight }) => ({
      id,
      hostname: HOST,
      path: { type: 'prefix', value: '/' },
      backend: { url },
      ...(weight === undefined ? {} : { weight }),
    }));

  it('goes round-robin over members of equal weight, in route id order', async () => {
    const gw = await gateway();
    const b = await backends(['a', 'b', 'c']);
    await push(gw, {
      version: 1,
      routes: group([
        { id: 'r-c', url: b.c!.url },
        { id: 'r-a', url: b.a!.url },
        { id: 'r-b', url: b.b!.url, weight: 1 },
      ]),
    });
    const order: unknown[] = [];
    for (let i = 0; i < 9; i += 1) order.push(served(await get(gw, HOST)));
    expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('splits 90/10 by weight within a binomial bound', async () => {
    const gw = await gateway();
    const b = await backends(['stable', 'canary']);
    await push(gw, {
      version: 1,
      routes: group([
        { id: 'stable', url: b.stable!.url, weight: 90 },
        { id: 'canary', url: b.canary!.url, weight: 10 },
      ]),
    });
    const n = 1_000;
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const seen: unknown[] = [];
        for (let i = 0; i < n / 20; i += 1) seen.push(served(await get(gw, HOST)));
        return seen;
      }),
    );
    const canary = answers.flat().filter((name) => name === 'canary').length;
    // Binomial(1000, 0.1): mean 100, standard deviation 9.5; ±6 deviations fails once in 10^9 runs.
    expect(canary).toBeGreaterThanOrEqual(43);
    expect(canary).toBeLessThanOrEqual(157);
    expect(b.stable!.seen.length + b.canary!.seen.length).toBe(n);
  });

  it('takes a member out on a connect failure and puts it back once a probe succeeds', async () => {
    const gw = await gateway();
    const a = await backend('a');
    // A port that refuses: b is started only later, on it.
    const bPort = await closedPort();
    await push(gw, {
      version: 1,
      routes: group([
        { id: 'a', url: a.url },
        { id: 'b', url: `http://127.0.0.1:${bPort}` },
      ]),
    });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await get(gw, HOST)).status);
    // The first request that reached b failed (502); b is out and every later one goes to a.
    expect(statuses.filter((status) => status === 502)).toHaveLength(1);
    expect(statuses.slice(2)).toEqual([200, 200, 200, 200]);
    // b comes back on its port: the active probe puts it back.
    await answerOn(bPort, 'b-again');
    await vi.waitFor(async () => expect(served(await get(gw, HOST))).toBe('b-again'), { timeout: 5_000 });
  });

  it('takes a member out on a 5xx, and forgets it when a new table drops it', async () => {
    // Probes far apart: the member stays out for the whole test, whatever the machine's load.
    const gw = await gateway({ healthProbeIntervalMs: 600_000 });
    const c = await backend('c');
    const d = await backend('d');
    await push(gw, {
      version: 1,
      routes: group([
        { id: 'c', url: c.url },
        { id: 'd', url: d.url },
      ]),
    });
    const unhealthy = async () =>
      /^tunnelfleet_gateway_unhealthy_backends (\d+)$/m.exec((await metrics(gw)).text)?.[1];
    expect(await unhealthy()).toBe('0');
    // Round-robin sends the first request to c: its 503 takes it out.
    expect((await get(gw, HOST, '/status/503')).text).toBe('c 503');
    const after = [];
    for (let i = 0; i < 4; i += 1) after.push(served(await get(gw, HOST, '/x')));
    expect(after).toEqual(['d', 'd', 'd', 'd']);
    expect(await unhealthy()).toBe('1');
    await push(gw, { version: 2, routes: group([{ id: 'd', url: d.url }]) });
    expect(await unhealthy()).toBe('0');
  });

  it('never sends to a member of weight 0, and answers 503 when every weight is 0', async () => {
    const gw = await gateway();
    const b = await backends(['on', 'drained']);
    await push(gw, {
      version: 1,
      routes: [
        ...group([
          { id: 'on', url: b.on!.url },
          { id: 'drained', url: b.drained!.url, weight: 0 },
        ]),
        { id: 'none', hostname: 'none.example.com', weight: 0, backend: { url: b.on!.url } },
      ],
    });
    for (let i = 0; i < 10; i += 1) expect(served(await get(gw, HOST))).toBe('on');
    expect(b.drained!.seen).toHaveLength(0);
    expect((await get(gw, 'none.example.com')).status).toBe(503);
  });
});

describe('filters', () => {
  it('sets, adds and removes request and response headers', async () => {
    const { gw, a } = await single({
      filters: {
        requestHeaders: {
          set: [{ name: 'X-Tenant', value: 'blue' }],
          add: [{ name: 'x-tag', value: 'gw' }],
          remove: ['x-secret'],
        },
        responseHeaders: {
          set: [{ name: 'strict-transport-security', value: 'max-age=600' }],
          add: [{ name: 'x-backend', value: 'via-gateway' }],
          remove: ['x-powered-by'],
        },
      },
    });
    const answer = await get(gw, HOST, '/', { 'x-tenant': 'red', 'x-tag': 'client', 'x-secret': 's' });
    const seen = a.seen.at(-1)!.headers;
    expect(seen['x-tenant']).toBe('blue');
    expect(seen['x-tag']).toBe('client, gw');
    expect(seen['x-secret']).toBeUndefined();
    expect(answer.headers['strict-transport-security']).toBe('max-age=600');
    expect(answer.headers['x-backend']).toEqual(['a', 'via-gateway']);
  });

  it('refuses header filters on the headers the gateway owns', async () => {
    const gw = await gateway();
    const a = await backend('a');
    const refused = await api(gw, 'PUT', '/config', {
      version: 1,
      routes: [
        {
          id: 'r',
          hostname: HOST,
          backend: { url: a.url },
          filters: {
            requestHeaders: {
              set: [
                { name: 'Host', value: 'evil' },
                { name: 'x-a', value: 'a\r\nx-b: b' },
              ],
            },
            responseHeaders: { remove: ['content-length'] },
          },
        },
      ],
    });
    expect(refused.status).toBe(200);
    const message = refused.body.refused[0]?.message;
    expect(message).toMatch(/requestHeaders\.set\[0\]\.name: is a header the gateway owns/);
    expect(message).toMatch(/requestHeaders\.set\[1\]\.value: must not hold line breaks/);
    expect(message).toMatch(/responseHeaders\.remove\[0\]: is a header the gateway owns/);
    // Refused, not served without its filters.
    expect((await get(gw, HOST)).status).toBe(503);
  });

  it('redirects with the status, scheme, host, port and path asked, keeping the query', async () => {
    const gw = await gateway();
    const a = await backend('a');
    const redirect = (id: string, path: string, filter: Record<string, unknown>): Route => ({
      id,
      hostname: HOST,
      path: { type: 'prefix', value: path },
      backend: { url: a.url },
      filters: { redirect: filter },
    });
    await push(gw, {
      version: 1,
      routes: [
        redirect('https', '/', { scheme: 'https', statusCode: 301 }),
        redirect('host', '/old', { hostname: 'new.example.com', path: '/new', statusCode: 308 }),
        redirect('port', '/port', { port: 8443, statusCode: 307 }),
        redirect('default', '/see', {}),
        redirect('other', '/other', { statusCode: 303 }),
      ],
    });
    const location = async (path: string, headers: Record<string, string> = {}) => {
      const answer = await get(gw, HOST, path, headers);
      return [answer.status, answer.headers.location];
    };
    expect(await location('/x?q=1')).toEqual([301, 'https://app.example.com/x?q=1']);
    expect(await location('/old/page?q=1')).toEqual([308, 'http://new.example.com/new?q=1']);
    expect(await location('/port/a')).toEqual([307, 'http://app.example.com:8443/port/a']);
    expect(await location('/see', { 'x-forwarded-proto': 'https' })).toEqual([
      302,
      'https://app.example.com/see',
    ]);
    expect(await location('/other')).toEqual([303, 'http://app.example.com/other']);
    // A client's X-Forwarded-Host does not choose where a (cacheable) redirect points.
    expect(await location('/x', { 'x-forwarded-host': 'evil.example.net' })).toEqual([
      301,
      'https://app.example.com/x',
    ]);
    // A redirect answers itself: the backend never hears of it.
    expect(a.seen).toHaveLength(0);
  });

  it('rewrites the host and the matched path prefix, keeping the rest and the query', async () => {
    const gw = await gateway();
    const a = await backend('a');
    const rewrite = (id: string, path: Route['path'], filter: Record<string, unknown>): Route => ({
      id,
      hostname: HOST,
      path,
      backend: { url: a.url },
      filters: { rewrite: filter },
    });
    await push(gw, {
      version: 1,
      routes: [
        rewrite(
          'prefix',
          { type: 'prefix', value: '/api' },
          { pathPrefix: '/v2', hostname: 'internal.local' },
        ),
        rewrite('strip', { type: 'prefix', value: '/strip/' }, { pathPrefix: '/' }),
        rewrite('exact', { type: 'exact', value: '/login' }, { pathPrefix: '/auth/login' }),
        rewrite('regex', { type: 'regex', value: '^/items/[0-9]+' }, { pathPrefix: '/item' }),
      ],
    });
    const sent = async (path: string) => {
      await get(gw, HOST, path);
      const seen = a.seen.at(-1)!;
      return [seen.url, seen.headers.host, seen.headers['x-forwarded-host']];
    };
    expect(await sent('/api/users?id=1')).toEqual(['/v2/users?id=1', 'internal.local', HOST]);
    expect(await sent('/api')).toEqual(['/v2', 'internal.local', HOST]);
    expect(await sent('/strip/a/b')).toEqual(['/a/b', HOST, HOST]);
    expect(await sent('/strip')).toEqual(['/', HOST, HOST]);
    expect(await sent('/login?next=/')).toEqual(['/auth/login?next=/', HOST, HOST]);
    expect(await sent('/items/42/photo')).toEqual(['/item/photo', HOST, HOST]);
  });

  it('mirrors a copy of each request, body included, and ignores its answer', async () => {
    const gw = await gateway();
    const a = await backend('a');
    const shadow = await backend('shadow');
    await push(gw, {
      version: 1,
      routes: [
        { id: 'r', hostname: HOST, backend: { url: a.url }, filters: { mirror: { url: shadow.url } } },
      ],
    });
    const answer = await get(gw, HOST, '/status/500', { 'x-trace': 't1' });
    // The real backend's 500, not the mirror's.
    expect(answer.text).toBe('a 500');
    await vi.waitFor(() =>
      expect(shadow.seen.map((r) => [r.method, r.url, r.headers['x-trace']])).toEqual([
        ['GET', '/status/500', 't1'],
      ]),
    );
    const upload = await send(gw, HOST, '/count', { method: 'POST', body: 'x'.repeat(100_000) });
    expect(upload.text).toBe('100000');
    await vi.waitFor(() => expect(shadow.received()).toBe(100_000));
  });

  it('never delays or fails the real request for a mirror that does not answer, and bounds the copies', async () => {
    const gw = await gateway();
    const a = await backend('a');
    // A mirror that accepts connections and reads nothing, ever.
    const held: Socket[] = [];
    const blackHole = createServer((socket) => {
      socket.pause();
      held.push(socket);
    });
    blackHole.listen(0, '127.0.0.1');
    await once(blackHole, 'listening');
    cleanups.push(
      () =>
        new Promise((resolve) => {
          for (const socket of held) socket.destroy();
          blackHole.close(resolve);
        }),
    );
    const port = (blackHole.address() as { port: number }).port;
    await push(gw, {
      version: 1,
      routes: [
        {
          id: 'r',
          hostname: HOST,
          backend: { url: a.url },
          filters: { mirror: { url: `http://127.0.0.1:${port}` } },
        },
      ],
    });
    // An upload of 32 MiB reaches the real backend whole while the mirror reads none of its copy
    // (the copy is cut once 1 MiB waits for the mirror; the client is never paused for it).
    const chunk = Buffer.alloc(256 * 1024, 1);
    const response = await request(`http://127.0.0.1:${gw.proxyPort}/count`, {
      method: 'POST',
      headers: { host: HOST },
      body: Readable.from(Array.from({ length: 128 }, () => chunk)),
    });
    expect(await response.body.text()).toBe(String(128 * chunk.length));
    // 100 requests at once: 64 copies at most are in flight, the rest are dropped; every real one succeeds.
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => get(gw, HOST, `/n/${i}`)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(100).fill(200));
    expect(held.length).toBeLessThanOrEqual(65);
    const { text } = await metrics(gw);
    const dropped = Number(/tunnelfleet_gateway_mirror_dropped_total\{route="r"\} (\d+)/.exec(text)?.[1]);
    expect(dropped).toBeGreaterThanOrEqual(36);
    expect(dropped).toBeLessThanOrEqual(37);
  });
});

describe('metrics', () => {
  /** The value of one sample line, or undefined when the series is absent. */
  const sample = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('serves Prometheus text behind the bearer token: requests by route and status class, latency', async () => {
    const { gw } = await single();
    expect((await metrics(gw, null)).status).toBe(401);
    expect((await metrics(gw, 'y'.repeat(64))).status).toBe(401);
    for (const path of ['/', '/x', '/status/404', '/status/503']) await get(gw, HOST, path);
    await get(gw, 'unknown.example.com');
    const { status, headers, text } = await metrics(gw);
    expect(status).toBe(200);
    expect(headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sample(text, 'tunnelfleet_gateway_requests_total{route="r",status_class="2xx"}')).toBe(2);
    expect(sample(text, 'tunnelfleet_gateway_requests_total{route="r",status_class="4xx"}')).toBe(1);
    expect(sample(text, 'tunnelfleet_gateway_requests_total{route="r",status_class="5xx"}')).toBe(1);
    expect(sample(text, 'tunnelfleet_gateway_requests_total{route="(none)",status_class="4xx"}')).toBe(1);
    expect(sample(text, 'tunnelfleet_gateway_request_duration_seconds_count{route="r"}')).toBe(4);
    expect(sample(text, 'tunnelfleet_gateway_request_duration_seconds_bucket{le="+Inf",route="r"}')).toBe(4);
    expect(sample(text, 'tunnelfleet_gateway_unhealthy_backends')).toBe(0);
  });

  it('counts wakes, their duration and idle stops per route', async () => {
    const gw = await gateway();
    // A port nothing listens on yet: the "container" sleeps.
    const port = await closedPort();
    await push(gw, {
      version: 1,
      routes: [
        {
          id: 'w',
          hostname: HOST,
          backend: { url: `http://127.0.0.1:${port}` },
          wake: { container: 'app', startTimeoutMs: 10_000, idleTimeoutMs: 1_000 },
        },
      ],
    });
    const waiting = get(gw, HOST, '/', { accept: 'application/json' });
    // Play the agent: take the start request, then "start the container" on its port.
    const requests = await api(gw, 'GET', '/wake-requests?after=0&wait_ms=10000');
    expect(requests.body).toMatchObject({ start: [{ container: 'app', dependsOn: [] }] });
    await answerOn(port, 'app');
    expect(served(await waiting)).toBe('app');
    const awake = (await metrics(gw)).text;
    expect(sample(awake, 'tunnelfleet_gateway_wakes_total{route="w",result="ready"}')).toBe(1);
    expect(sample(awake, 'tunnelfleet_gateway_wake_duration_seconds_count{route="w"}')).toBe(1);
    // A second after the last request the agent is told to stop it.
    const seq = Number(requests.body.seq);
    await vi.waitFor(
      async () =>
        expect((await api(gw, 'GET', `/wake-requests?after=${seq}&wait_ms=2000`)).body.stop).toEqual(['app']),
      { timeout: 10_000 },
    );
    expect(sample((await metrics(gw)).text, 'tunnelfleet_gateway_idle_stops_total{route="w"}')).toBe(1);
  });
});
