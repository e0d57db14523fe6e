import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { GATEWAY_PROXY_PORT, gatewayServiceUrl } from '@tunnelfleet/common';
import { describe, expect, it } from 'vitest';
import { GATEWAY_TEST_IMAGE } from '../harness/gateway-image.js';
import { waitFor } from '../harness/wait-for.js';
import type { Fleet } from '../system/fleet.js';
import {
  directJson,
  type Echo,
  echoSeen,
  runEcho,
  useEchoImage,
  webSocketThroughGateway,
} from './echo-support.js';
import { gatewayAddress, gatewayRequest, useGatewayImage } from './gateway-support.js';
import {
  CONVERGE_TIMEOUT_MS,
  cloudView,
  publishLabels,
  routesOf,
  rulesFor,
  uniqueHostname,
  useFleet,
} from './support.js';

// Built before the fleet starts, on the main engine, where host A's agent runs the gateway; the
// echo backend is built on the gateway's image (it has node).
const gatewayVolumeOf = useGatewayImage();
useEchoImage();

// Host A (the main engine) runs the gateway: a second engine drops traffic between its containers.
const fleet = useFleet({ secondEngine: 'docker32', hostEnv: { a: { GATEWAY_IMAGE: GATEWAY_TEST_IMAGE } } });

/** Host A's gateway address, once every route of these hostnames is active and each rule names the gateway. */
async function gatewayServing(f: Fleet, hostnames: string[], routes: number): Promise<string> {
  const agentId = await f.a.agentId();
  gatewayVolumeOf(agentId);
  let last = '';
  await waitFor(
    async () => {
      const found = (await Promise.all(hostnames.map((hostname) => routesOf(f, hostname)))).flat();
      const rules = hostnames.flatMap((hostname) => rulesFor(cloudView(f), hostname));
      last = JSON.stringify({
        routes: found.map((route) => [route.hostname, route.path, route.status, route.statusMessage]),
        rules,
      });
      return (
        found.length === routes &&
        found.every((route) => route.status === 'active') &&
        rules.length > 0 &&
        rules.every((rule) => rule.service === gatewayServiceUrl(agentId))
      );
    },
    {
      description: `${routes} routes of ${hostnames.join(', ')} active through the gateway`,
      timeoutMs: CONVERGE_TIMEOUT_MS,
    },
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last seen: ${last}`);
  });
  return gatewayAddress(f.a.docker, agentId, f.a.network);
}

/** What the echo backend behind the gateway says it received, and the answer's status and headers. */
async function echoed(
  address: string,
  options: Parameters<typeof gatewayRequest>[1],
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  echo: Echo | undefined;
}> {
  const answer = await gatewayRequest(address, options);
  let echo: Echo | undefined;
  try {
    echo = JSON.parse(answer.body) as Echo;
  } catch {
    echo = undefined;
  }
  return { status: answer.status, headers: answer.headers, echo };
}

describe('routing beyond hostname and path, through the host gateway', { timeout: 300_000 }, () => {
  // Exact hostnames before wildcards is proven at the gateway's level: a wildcard hostname needs an
  // agent key whose allowlist names it, and this fleet's keys allow any hostname but no wildcard.
  it('sends each request to the container the Gateway API precedence picks, from labels alone', async () => {
    const f = fleet();
    const hostname = uniqueHostname('precedence');
    const on = (extra: Record<string, string>) => runEcho(f.a, { labels: publishLabels(hostname, extra) });
    // Every container has a routing label: several containers of one host may then share the hostname.
    const fallback = await on({ 'tunnelfleet.weight': '1' });
    const query = await on({ 'tunnelfleet.match.query.v': '2' });
    const header = await on({ 'tunnelfleet.match.header.X-Env': 'beta' });
    const twoHeaders = await on({
      'tunnelfleet.match.header.X-Env': 'beta',
      'tunnelfleet.match.header.X-Tier': 'gold',
    });
    const method = await on({ 'tunnelfleet.match.method': 'POST' });
    const prefix = await on({ 'tunnelfleet.path': '^/api(/|$)', 'tunnelfleet.weight': '1' });
    const exact = await on({ 'tunnelfleet.path': '^/api$', 'tunnelfleet.weight': '1' });
    const address = await gatewayServing(f, [hostname], 7);

    const beta = { 'x-env': 'beta' };
    const gold = { 'x-env': 'beta', 'x-tier': 'gold' };
    const cases: Array<[string, Parameters<typeof gatewayRequest>[1], string]> = [
      ['no match: the route without conditions', { hostname }, fallback.server],
      ['a query match', { hostname, path: '/?v=2' }, query.server],
      ['another query value: no query match', { hostname, path: '/?v=3' }, fallback.server],
      ['a header match before a query match', { hostname, path: '/?v=2', headers: beta }, header.server],
      ['two header matches before one', { hostname, path: '/?v=2', headers: gold }, twoHeaders.server],
      [
        'a method match before header matches',
        { hostname, method: 'POST', path: '/?v=2', headers: gold },
        method.server,
      ],
      [
        'a longer path before a method match',
        { hostname, method: 'POST', path: '/api/users', headers: gold },
        prefix.server,
      ],
      [
        'an exact path before a prefix of the same length',
        { hostname, method: 'POST', path: '/api', headers: gold },
        exact.server,
      ],
      ['a prefix matches whole segments only', { hostname, path: '/apix' }, fallback.server],
    ];
    const servedBy = async () =>
      Promise.all(cases.map(async ([, request]) => (await echoed(address, request)).echo?.server));
    // The agent pushes the table once the master sent it the routes: wait for the whole table.
    await waitFor(async () => (await servedBy()).every((server, i) => server === cases[i]![2]), {
      description: 'the gateway serving every route of the hostname',
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });
    // Then, request by request, with what the backend received.
    for (const [why, request, expected] of cases) {
      const { status, echo } = await echoed(address, request);
      expect({ why, status, server: echo?.server }).toEqual({ why, status: 200, server: expected });
      expect(echo?.method).toBe(request.method ?? 'GET');
      expect(echo?.url).toBe(request.path ?? '/');
    }
  });

  it('applies request and response header filters, redirects, and rewrites, from labels alone', async () => {
    const f = fleet();
    const headers = uniqueHostname('headers');
    const redirect = uniqueHostname('redirect');
    const rewrite = uniqueHostname('rewrite');
    const backend = await runEcho(f.a, {
      labels: {
        ...publishLabels(headers, {
          'tunnelfleet.filter.request_header.set.X-Set': 'gateway',
          'tunnelfleet.filter.request_header.add.X-Add': 'gateway',
          'tunnelfleet.filter.request_header.remove': 'X-Remove, X-Remove-Too',
          'tunnelfleet.filter.response_header.set.X-Backend-Set': 'gateway',
          'tunnelfleet.filter.response_header.add.X-Backend-Add': 'gateway',
          'tunnelfleet.filter.response_header.remove': 'X-Backend-Remove',
        }),
        'tunnelfleet.moved.hostname': redirect,
        'tunnelfleet.moved.filter.redirect.scheme': 'https',
        'tunnelfleet.moved.filter.redirect.hostname': 'new.example.net',
        'tunnelfleet.moved.filter.redirect.path': '/moved',
        'tunnelfleet.moved.filter.redirect.status': '301',
        'tunnelfleet.inner.hostname': rewrite,
        'tunnelfleet.inner.path': '^/old(/|$)',
        'tunnelfleet.inner.filter.rewrite.hostname': 'internal.example.net',
        'tunnelfleet.inner.filter.rewrite.path_prefix': '/new',
      },
    });
    const address = await gatewayServing(f, [headers, redirect, rewrite], 3);
    const ready = (hostname: string, path: string) =>
      waitFor(
        async () => {
          const answer = await gatewayRequest(address, { hostname, path }).catch(() => undefined);
          return answer && answer.status !== 404 ? answer : undefined;
        },
        { description: `the gateway routing ${hostname}`, timeoutMs: CONVERGE_TIMEOUT_MS },
      );
    await Promise.all([ready(headers, '/'), ready(redirect, '/'), ready(rewrite, '/old')]);

    // Request headers: the backend sees them set, added to and removed; response headers: the client does.
    const filtered = await echoed(address, {
      hostname: headers,
      path: '/h',
      headers: {
        'x-set': 'client',
        'x-add': 'client',
        'x-remove': 'client',
        'x-remove-too': 'client',
        'x-kept': 'client',
      },
    });
    expect(filtered.status).toBe(200);
    expect(filtered.echo?.server).toBe(backend.server);
    expect(filtered.echo?.headers).toMatchObject({
      'x-set': 'gateway',
      'x-add': 'client, gateway',
      'x-kept': 'client',
    });
    expect(filtered.echo?.headers).not.toHaveProperty('x-remove');
    expect(filtered.echo?.headers).not.toHaveProperty('x-remove-too');
    expect(filtered.headers['x-backend-set']).toBe('gateway');
    expect(filtered.headers['x-backend-add']).toBe('first, gateway');
    expect(filtered.headers).not.toHaveProperty('x-backend-remove');

    // Redirect: the gateway answers itself; the query is kept; the backend never sees the request.
    const before = (await echoSeen(backend)).length;
    const moved = await gatewayRequest(address, { hostname: redirect, path: '/somewhere?q=1' });
    expect(moved.status).toBe(301);
    expect(moved.headers.location).toBe('https://new.example.net/moved?q=1');

    // Rewrite: the backend receives the new host and path, the public host in X-Forwarded-Host.
    const rewritten = await echoed(address, { hostname: rewrite, path: '/old/page?x=1' });
    expect(rewritten.status).toBe(200);
    expect(rewritten.echo).toMatchObject({ server: backend.server, url: '/new/page?x=1' });
    expect(rewritten.echo?.headers).toMatchObject({
      host: 'internal.example.net',
      'x-forwarded-host': rewrite,
    });
    const seen = (await echoSeen(backend)).slice(before);
    expect(seen.map((echo) => echo.url)).toEqual(['/new/page?x=1']);
  });

  it('sends a copy of each request to the mirror, while the client gets the primary backend answer', async () => {
    const f = fleet();
    const hostname = uniqueHostname('mirror');
    const mirror = await runEcho(f.a);
    const primary = await runEcho(f.a, {
      labels: publishLabels(hostname, { 'tunnelfleet.mirror': `http://${mirror.name}:8080` }),
    });
    const address = await gatewayServing(f, [hostname], 1);
    await waitFor(async () => (await gatewayRequest(address, { hostname, path: '/warm' })).status === 200, {
      description: 'the gateway routing the mirrored hostname',
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });

    const sent = Array.from({ length: 5 }, (_, i) => ({ path: `/copy?n=${i}`, body: randomBytes(4096 + i) }));
    for (const { path, body } of sent) {
      const answer = await echoed(address, {
        hostname,
        method: 'POST',
        path,
        body,
        headers: { 'x-trace': path },
      });
      expect(answer.status).toBe(200);
      expect(answer.echo).toMatchObject({ server: primary.server, url: path, bytes: body.length });
    }
    // Each copy reaches the mirror with its method, path, headers and body.
    const copies = await waitFor(
      async () => {
        const seen = (await echoSeen(mirror)).filter((echo) => echo.url.startsWith('/copy'));
        return seen.length >= sent.length ? seen : undefined;
      },
      { description: 'the mirror to receive every copy', timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    expect(copies.map((copy) => copy.url).sort()).toEqual(sent.map((one) => one.path).sort());
    for (const { path, body } of sent) {
      const copy = copies.find((one) => one.url === path);
      expect(copy).toMatchObject({
        method: 'POST',
        bytes: body.length,
        sha256: createHash('sha256').update(body).digest('hex'),
        headers: expect.objectContaining({ host: hostname, 'x-trace': path }),
      });
    }
  });

  it('carries a WebSocket both ways, and streams a 64 MiB upload to the backend while the client is still sending', async () => {
    const f = fleet();
    const hostname = uniqueHostname('stream');
    const backend = await runEcho(f.a, { labels: publishLabels(hostname, { 'tunnelfleet.weight': '1' }) });
    const address = await gatewayServing(f, [hostname], 1);
    await waitFor(async () => (await gatewayRequest(address, { hostname })).status === 200, {
      description: 'the gateway routing the hostname',
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });

    const socket = await webSocketThroughGateway(address, hostname);
    expect(await socket.echo('hello through the gateway')).toBe('hello through the gateway');
    expect(await socket.echo('x'.repeat(10_000))).toBe('x'.repeat(10_000));
    await socket.close();

    // 64 chunks of 1 MiB. After the first, nothing more is sent until the backend says it has it:
    // a gateway that buffered the body before forwarding it would never let this upload finish.
    const chunks = Array.from({ length: 64 }, () => randomBytes(1024 * 1024));
    const hash = createHash('sha256');
    for (const chunk of chunks) hash.update(chunk);
    const upload = new Promise<Echo>((resolve, reject) => {
      const req = httpRequest(
        {
          host: address,
          port: GATEWAY_PROXY_PORT,
          method: 'PUT',
          path: '/upload',
          headers: { host: hostname, 'content-type': 'application/octet-stream' },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () =>
            res.statusCode === 200
              ? resolve(JSON.parse(body) as Echo)
              : reject(new Error(`${res.statusCode} ${body}`)),
          );
        },
      );
      req.on('error', reject);
      const rest = async () => {
        await waitFor(
          async () =>
            (await directJson<{ bytes: number }>(backend.address, 8080, '/_echo/progress')).bytes >=
            chunks[0]!.length,
          {
            description: 'the backend to have the first MiB while the client holds the rest',
            timeoutMs: CONVERGE_TIMEOUT_MS,
          },
        );
        for (const chunk of chunks.slice(1))
          if (!req.write(chunk)) await new Promise((drained) => req.once('drain', drained));
        req.end();
      };
      req.write(chunks[0]);
      rest().catch((error: Error) => {
        req.destroy(error);
        reject(error);
      });
    });
    const received = await upload;
    expect(received).toMatchObject({
      server: backend.server,
      method: 'PUT',
      url: '/upload',
      bytes: 64 * 1024 * 1024,
      sha256: hash.digest('hex'),
    });
  });
});
