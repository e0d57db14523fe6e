import { once } from 'node:events';
import { stat, writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { request } from 'undici';
import { describe, expect, it, vi } from 'vitest';
import { useGatewayHarness } from '../../test/gateway-harness.js';
import { startTestBackend } from '../../test/test-backend.js';

const { cleanups, dataDir: currentDataDir, gateway, backend, api, push, get } = useGatewayHarness();

describe('local API', () => {
  it('needs the bearer token to read or replace the table; health and readiness need none', async () => {
    const gw = await gateway();
    const table = { version: 1, routes: [] };
    expect((await api(gw, 'PUT', '/config', table, null)).status).toBe(401);
    expect((await api(gw, 'PUT', '/config', table, 'x'.repeat(64))).status).toBe(401);
    expect((await api(gw, 'GET', '/config', undefined, null)).status).toBe(401);
    expect(await api(gw, 'GET', '/healthz', undefined, null)).toEqual({
      status: 200,
      body: { healthy: true },
    });
    expect(await api(gw, 'GET', '/readyz', undefined, null)).toEqual({
      status: 503,
      body: { ready: false, version: null },
    });
    await push(gw, table);
    expect(await api(gw, 'GET', '/readyz', undefined, null)).toEqual({
      status: 200,
      body: { ready: true, version: 1 },
    });
  });

  it('refuses a version not above the one served with a typed error, and keeps the table', async () => {
    const gw = await gateway();
    const a = await backend('a');
    const table = (version: number) => ({
      version,
      routes: [{ id: `r${version}`, hostname: 'app.example.com', backend: { url: a.url } }],
    });
    await push(gw, table(5));
    for (const version of [4, 5]) {
      const refused = await api(gw, 'PUT', '/config', table(version));
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({
        code: 'stale_config_version',
        details: { offered: version, current: 5 },
      });
    }
    const current = await api(gw, 'GET', '/config');
    expect(current.body).toMatchObject({ version: 5, routes: [{ id: 'r5' }] });
  });

  it('refuses a malformed table as a whole (its version or list), and serves the previous one', async () => {
    const gw = await gateway();
    const a = await backend('a');
    await push(gw, {
      version: 1,
      routes: [{ id: 'ok', hostname: 'app.example.com', backend: { url: a.url } }],
    });
    const cases: [unknown, RegExp][] = [
      [{ version: 2.5, routes: [] }, /version/],
      [{ version: 2, routes: [], extra: true }, /extra/],
      [{ version: 2, routes: 'all' }, /routes/],
    ];
    for (const [body, message] of cases) {
      const refused = await api(gw, 'PUT', '/config', body);
      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe('validation_failed');
      expect(refused.body.error.message).toMatch(message);
    }
    expect((await api(gw, 'PUT', '/config', '{not json')).body.error.code).toBe('invalid_json');
    const huge = await api(
      gw,
      'PUT',
      '/config',
      JSON.stringify({ version: 2, routes: [], pad: 'x'.repeat(5 * 1024 * 1024) }),
    );
    expect(huge.status).toBe(413);
    expect((await get(gw, 'app.example.com')).text).toBe('a GET /');
    expect((await api(gw, 'GET', '/config')).body.version).toBe(1);
  });

  it('refuses a bad route alone: the rest are served, it answers 503, and the answer says why', async () => {
    const gw = await gateway();
    const a = await backend('a');
    const b = await backend('b');
    const ok = { id: 'ok', hostname: 'app.example.com', backend: { url: a.url } };
    const underApi = {
      id: 'newer',
      hostname: 'app.example.com',
      path: { type: 'prefix', value: '/api' },
      backend: { url: b.url },
    };
    const answer = await api(gw, 'PUT', '/config', {
      version: 1,
      routes: [
        ok,
        // A newer field than this gateway knows (version skew), under a served hostname.
        { ...underApi, filters: { rateLimit: { perMinute: 10 } } },
        { id: 'host', hostname: 'bad host.example.com', backend: { url: b.url } },
        { id: 'origin', hostname: 'origin.example.com', backend: { url: `${b.url}/admin` } },
        { id: 'dup', hostname: 'dup.example.com', backend: { url: b.url } },
        {
          id: 'dup',
          hostname: 'dup.example.com',
          path: { type: 'exact', value: '/x' },
          backend: { url: b.url },
        },
        'not a route',
      ],
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      version: 1,
      routes: 1,
      refused: [
        {
          id: 'newer',
          code: 'unsupported_field',
          message: expect.stringMatching(/^filters: Unrecognized key: "rateLimit"/),
        },
        {
          id: 'host',
          code: 'invalid_route',
          message: expect.stringMatching(/hostname: "bad host.example.com" is not a valid hostname/),
        },
        {
          id: 'origin',
          code: 'invalid_route',
          message: expect.stringMatching(/backend\.url: a backend is an origin only/),
        },
        { id: 'dup', code: 'duplicate_id', message: '2 routes of the table have this id' },
        { id: 'dup', code: 'duplicate_id', message: '2 routes of the table have this id' },
        { id: 'routes[6]', code: 'invalid_route', message: expect.any(String) },
      ],
    });
    // The good route is served; the refused one's requests never reach another route's backend.
    expect((await get(gw, 'app.example.com', '/')).text).toBe('a GET /');
    for (const [host, path] of [
      ['app.example.com', '/api/users'],
      ['origin.example.com', '/'],
      ['dup.example.com', '/x'],
      ['dup.example.com', '/'],
    ] as const) {
      const refused = await get(gw, host, path);
      expect(refused.status, `${host}${path}`).toBe(503);
      expect(JSON.parse(refused.text)).toEqual({
        error: {
          code: 'route_refused',
          message: "this route is not served: the host's gateway refused its configuration",
        },
      });
    }
    expect(b.seen).toEqual([]);
    expect((await get(gw, 'unknown.example.com', '/')).status).toBe(404);
    expect((await api(gw, 'GET', '/config')).body.routes).toEqual([expect.objectContaining({ id: 'ok' })]);

    // A restarted gateway reads the stored table back the same way.
    await gw.stop();
    const again = await gateway();
    expect((await get(again, 'app.example.com', '/')).text).toBe('a GET /');
    expect((await get(again, 'app.example.com', '/api/users')).status).toBe(503);

    // A later push that fixes the route serves it.
    const fixed = await api(again, 'PUT', '/config', { version: 2, routes: [ok, underApi] });
    expect(fixed.body).toEqual({ version: 2, routes: 2, refused: [] });
    expect((await get(again, 'app.example.com', '/api/users')).text).toBe('b GET /api/users');
  });

  it('keeps the table on disk (0600) and serves it at once after a restart', async () => {
    const first = await gateway();
    const a = await backend('a');
    await push(first, {
      version: 7,
      routes: [{ id: 'r', hostname: 'app.example.com', backend: { url: a.url } }],
    });
    expect((await stat(join(currentDataDir(), 'routing-table.json'))).mode & 0o777).toBe(0o600);
    await first.stop();
    const second = await gateway();
    expect(await api(second, 'GET', '/readyz', undefined, null)).toEqual({
      status: 200,
      body: { ready: true, version: 7 },
    });
    expect((await get(second, 'app.example.com')).text).toBe('a GET /');
    // The restarted gateway still refuses what the first one would have.
    expect((await api(second, 'PUT', '/config', { version: 7, routes: [] })).status).toBe(409);
  });
});

describe('local API under stress', () => {
  it('serves nothing from an unreadable stored table (not ready) until a push, which replaces it', async () => {
    await writeFile(join(currentDataDir(), 'routing-table.json'), '{"version": "nine", "routes": []}');
    const gw = await gateway();
    expect((await api(gw, 'GET', '/readyz', undefined, null)).status).toBe(503);
    expect((await get(gw, 'app.example.com')).status).toBe(404);
    await push(gw, { version: 1, routes: [] });
    expect((await api(gw, 'GET', '/readyz', undefined, null)).body.version).toBe(1);
  });

  it('decides concurrent pushes one at a time: the highest version wins, none is half applied', async () => {
    const gw = await gateway();
    const a = await backend('a');
    const table = (version: number) => ({
      version,
      routes: [{ id: `v${version}`, hostname: 'app.example.com', backend: { url: a.url } }],
    });
    const answers = await Promise.all([5, 3, 4, 2, 1].map((v) => api(gw, 'PUT', '/config', table(v))));
    expect(answers[0]!.status).toBe(200);
    for (const answer of answers) expect([200, 409]).toContain(answer.status);
    expect((await api(gw, 'GET', '/config')).body).toMatchObject({ version: 5, routes: [{ id: 'v5' }] });
  });
});

describe('routing', () => {
  it('looks up exact hosts before wildcards, the longest wildcard first, then the longest path', async () => {
    const gw = await gateway();
    const names = ['exact', 'api', 'apiv2', 'wild', 'deepwild', 'exactpath'];
    const b = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await backend(n)] as const)));
    await push(gw, {
      version: 1,
      routes: [
        { id: 'wild', hostname: '*.example.com', backend: { url: b.wild!.url } },
        { id: 'deepwild', hostname: '*.team.example.com', backend: { url: b.deepwild!.url } },
        { id: 'exact', hostname: 'app.example.com', backend: { url: b.exact!.url } },
        {
          id: 'api',
          hostname: 'app.example.com',
          path: { type: 'prefix', value: '/api' },
          backend: { url: b.api!.url },
        },
        {
          id: 'apiv2',
          hostname: 'app.example.com',
          path: { type: 'prefix', value: '/api/v2/' },
          backend: { url: b.apiv2!.url },
        },
        {
          id: 'exactpath',
          hostname: 'app.example.com',
          path: { type: 'exact', value: '/api/v2/ping' },
          backend: { url: b.exactpath!.url },
        },
      ],
    });
    const served = async (host: string, path = '/') => (await get(gw, host, path)).headers['x-backend'];
    expect(await served('app.example.com')).toBe('exact');
    expect(await served('APP.example.com:443')).toBe('exact');
    expect(await served('app.example.com', '/api')).toBe('api');
    expect(await served('app.example.com', '/api/users?x=1')).toBe('api');
    expect(await served('app.example.com', '/apix')).toBe('exact');
    expect(await served('app.example.com', '/api/v2')).toBe('apiv2');
    expect(await served('app.example.com', '/api/v2/ping')).toBe('exactpath');
    expect(await served('app.example.com', '/api/v2/ping/more')).toBe('apiv2');
    expect(await served('other.example.com')).toBe('wild');
    expect(await served('a.b.example.com')).toBe('wild');
    expect(await served('x.team.example.com')).toBe('deepwild');
    const missing = await get(gw, 'example.com');
    expect(missing.status).toBe(404);
    expect((await get(gw, 'app.example.org')).status).toBe(404);
  });

  it('passes the path and query on, sets X-Forwarded-*, and drops hop-by-hop headers', async () => {
    const gw = await gateway();
    const a = await backend('a');
    await push(gw, {
      version: 1,
      routes: [{ id: 'r', hostname: 'app.example.com', backend: { url: a.url } }],
    });
    // node:http, not undici: undici keeps a `Connection` header to itself, and this one must reach the gateway.
    const sent = httpRequest({
      port: gw.proxyPort,
      host: '127.0.0.1',
      path: '/p/q?x=1&y=%20',
      headers: {
        host: 'app.example.com',
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-proto': 'https',
        connection: 'x-internal',
        'x-internal': 'secret',
        'x-kept': 'yes',
      },
    });
    sent.end();
    const [response] = (await once(sent, 'response')) as [IncomingMessage];
    expect(response.statusCode).toBe(200);
    response.resume();
    const seen = a.seen.at(-1)!;
    expect(seen.url).toBe('/p/q?x=1&y=%20');
    expect(seen.headers.host).toBe('app.example.com');
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-host']).toBe('app.example.com');
    expect(seen.headers['x-kept']).toBe('yes');
    expect(seen.headers['x-internal']).toBeUndefined();
  });

  it('reuses kept-alive connections to a backend', async () => {
    const gw = await gateway();
    const a = await backend('a');
    await push(gw, {
      version: 1,
      routes: [{ id: 'r', hostname: 'app.example.com', backend: { url: a.url } }],
    });
    for (let i = 0; i < 20; i += 1) expect((await get(gw, 'app.example.com')).status).toBe(200);
    expect(a.seen).toHaveLength(20);
    expect(a.connections).toBe(1);
  });

  it('answers 502 for a backend that refuses, 504 for one that does not answer in time', async () => {
    const gw = await gateway({ headersTimeoutMs: 300 });
    const a = await backend('a');
    const gone = await startTestBackend('gone');
    await gone.close();
    await push(gw, {
      version: 1,
      routes: [
        { id: 'gone', hostname: 'gone.example.com', backend: { url: gone.url } },
        { id: 'slow', hostname: 'slow.example.com', backend: { url: a.url } },
      ],
    });
    expect((await get(gw, 'gone.example.com')).status).toBe(502);
    expect((await get(gw, 'slow.example.com', '/hold')).status).toBe(504);
  });
});

describe('table swap', () => {
  it('lets a request in flight finish on the old backend while new ones take the new table', async () => {
    const gw = await gateway();
    const [a, b] = [await backend('a'), await backend('b')];
    const route = (url: string) => [{ id: 'r', hostname: 'app.example.com', backend: { url } }];
    await push(gw, { version: 1, routes: route(a.url) });
    const inFlight = get(gw, 'app.example.com', '/hold');
    await a.held();
    await push(gw, { version: 2, routes: route(b.url) });
    expect((await get(gw, 'app.example.com')).headers['x-backend']).toBe('b');
    a.release();
    expect(await inFlight).toMatchObject({ status: 200, text: 'released' });
  });
});

describe('a container stopped by the agent', () => {
  it('is marked sleeping when the agent says so: the next request with a body wakes it instead of a 502', async () => {
    const gw = await gateway();
    const a = await backend('a');
    await push(gw, {
      version: 1,
      routes: [
        {
          id: 'r',
          hostname: 'app.example.com',
          backend: { url: a.url },
          wake: { container: 'app', startTimeoutMs: 1_000 },
        },
      ],
    });
    const post = async () => {
      const response = await request(`http://127.0.0.1:${gw.proxyPort}/form`, {
        method: 'POST',
        headers: { host: 'app.example.com', accept: 'application/json' },
        body: 'x=1',
      });
      return { status: response.statusCode, text: await response.body.text() };
    };
    expect(await post()).toEqual({ status: 200, text: 'a POST /form' });
    // The agent stops it on a schedule (here: the backend goes away) and tells the gateway.
    await a.close();
    expect(await api(gw, 'PUT', '/containers/app/sleeping')).toEqual({ status: 200, body: { routes: 1 } });
    expect((await api(gw, 'PUT', '/containers/app/sleeping', undefined, null)).status).toBe(401);
    // A wake, not a 502: the start is asked of the agent (here nobody starts it: the start timeout).
    const answer = await post();
    expect(answer.status).toBe(504);
    expect(JSON.parse(answer.text).error.code).toBe('start_timeout');
    const asked = await api(gw, 'GET', '/wake-requests?after=0&wait_ms=0');
    expect(asked.body).toMatchObject({ start: [{ container: 'app', dependsOn: [] }] });
  });
});

describe('stop', () => {
  it('drains: no new connection, a request in flight finishes, a kept-alive client is told to close first', async () => {
    const gw = await gateway();
    const a = await backend('a');
    await push(gw, {
      version: 1,
      routes: [{ id: 'r', hostname: 'app.example.com', backend: { url: a.url } }],
    });
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (path: string) =>
      new Promise<{ status: number; connection: string | undefined; text: string }>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: gw.proxyPort,
            path,
            agent: keepAlive,
            headers: { host: 'app.example.com' },
          },
          (res: IncomingMessage) => {
            let text = '';
            res.on('data', (chunk) => (text += chunk));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, text }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await send('/')).toMatchObject({ status: 200, connection: 'keep-alive' });
      // Held by the backend: in flight while the gateway stops (on a connection of its own).
      const inFlight = get(gw, 'app.example.com', '/hold');
      await a.held();
      let stopped = false;
      const stopping = gw.stop().then(() => {
        stopped = true;
      });
      // No new connection: the listener closes once it has taken what the kernel queued.
      const tryConnect = () =>
        new Promise<string>((resolve) => {
          const socket = connect(gw.proxyPort, '127.0.0.1');
          socket.on('connect', () => {
            socket.destroy();
            resolve('connected');
          });
          socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        });
      await vi.waitFor(async () => expect(await tryConnect()).toBe('ECONNREFUSED'));
      // The idle kept-alive connection still answers, and says it closes after.
      expect(await send('/after')).toEqual({ status: 200, connection: 'close', text: 'a GET /after' });
      expect(stopped).toBe(false);
      a.release();
      expect(await inFlight).toMatchObject({ status: 200, text: 'released' });
      await stopping;
    } finally {
      keepAlive.destroy();
    }
  });
});

describe('stop under load', () => {
  it('answers the connections the kernel queued while the gateway was too busy to accept them', async () => {
    const gw = await gateway();
    const a = await backend('a');
    await push(gw, {
      version: 1,
      routes: [{ id: 'r', hostname: 'app.example.com', backend: { url: a.url } }],
    });
    const count = 4;
    const sent = new Int32Array(new SharedArrayBuffer(4));
    const clients = new Worker(QUEUED_CLIENTS, {
      eval: true,
      workerData: { port: gw.proxyPort, count, sent },
    });
    const answers = once(clients, 'message');
    // This thread is held, as a process waiting for a CPU is, while the clients connect and send
    // their requests: the kernel completes each connection and queues it. Then the stop begins.
    expect(Atomics.wait(sent, 0, 0, 10_000)).toBe('ok');
    const stopping = gw.stop();
    const [statuses] = (await answers) as [string[]];
    await stopping;
    expect(statuses).toEqual(Array.from({ length: count }, () => '200 close'));
  });
});

/**
 * Worker: `count` raw connections to the gateway, each sending a GET for app.example.com; sets
 * `sent[0]` once every request is written, then posts each answer's status and Connection
 * header, or its error code (ECONNRESET for a connection reset unanswered).
 */
const QUEUED_CLIENTS = `
const { connect } = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
const { port, count, sent } = workerData;
let written = 0;
const answers = Array.from({ length: count }, (_, i) => new Promise((resolve) => {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.on('connect', () => socket.write('GET /q' + i + ' HTTP/1.1\\r\\nhost: app.example.com\\r\\n\\r\\n', () => {
    if (++written === count) { Atomics.store(sent, 0, 1); Atomics.notify(sent, 0); }
  }));
  socket.on('data', (chunk) => (text += chunk));
  socket.on('end', () => resolve(text.split(' ')[1] + ' ' + (/^connection: (.*)$/im.exec(text)?.[1].trim() ?? '-')));
  socket.on('error', (error) => resolve(error.code));
}));
Promise.all(answers).then((all) => parentPort.postMessage(all));
`;

describe('streaming', () => {
  it('streams an upload: the backend reads it while the client is still sending', async () => {
    const gw = await gateway();
    const a = await backend('a');
    await push(gw, {
      version: 1,
      routes: [{ id: 'r', hostname: 'app.example.com', backend: { url: a.url } }],
    });
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const chunks = 32;
    async function* body() {
      yield chunk;
      // Nothing more is sent until the backend has the first MiB: a buffering proxy would wait forever.
      await vi.waitFor(() => expect(a.received()).toBeGreaterThanOrEqual(chunk.length), { timeout: 10_000 });
      for (let i = 1; i < chunks; i += 1) yield chunk;
    }
    const response = await request(`http://127.0.0.1:${gw.proxyPort}/count`, {
      method: 'POST',
      headers: { host: 'app.example.com' },
      body: Readable.from(body()),
    });
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe(String(chunks * chunk.length));
  });

  it('streams a download: the client reads the first chunk before the backend has finished', async () => {
    const gw = await gateway();
    const a = await backend('a');
    await push(gw, {
      version: 1,
      routes: [{ id: 'r', hostname: 'app.example.com', backend: { url: a.url } }],
    });
    const response = await request(`http://127.0.0.1:${gw.proxyPort}/stream`, {
      headers: { host: 'app.example.com' },
    });
    const reader = response.body[Symbol.asyncIterator]();
    const first = await reader.next();
    expect(String(first.value)).toBe('first-chunk');
    a.finishStream();
    let rest = '';
    for (let next = await reader.next(); !next.done; next = await reader.next()) rest += String(next.value);
    expect(rest).toBe('last-chunk');
  });

  it('upgrades a connection (WebSocket) and carries bytes both ways', async () => {
    const gw = await gateway();
    const a = await backend('a');
    await push(gw, {
      version: 1,
      routes: [{ id: 'r', hostname: 'ws.example.com', backend: { url: a.url } }],
    });
    const socket = connect(gw.proxyPort, '127.0.0.1');
    cleanups.push(async () => socket.destroy());
    await once(socket, 'connect');
    socket.write(
      'GET /socket HTTP/1.1\r\nhost: ws.example.com\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    let received = '';
    socket.on('data', (data: Buffer) => {
      received += data.toString();
    });
    await vi.waitFor(() => expect(received).toContain('\r\n\r\n'));
    expect(received).toMatch(/^HTTP\/1\.1 101 /);
    expect(received).toContain('x-backend: a');
    received = '';
    socket.write('ping through the gateway');
    await vi.waitFor(() => expect(received).toBe('ping through the gateway'));
    expect(a.seen.at(-1)).toMatchObject({
      url: '/socket',
      headers: { upgrade: 'websocket', 'x-forwarded-host': 'ws.example.com' },
    });
  });
});
