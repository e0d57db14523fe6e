import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmulatorWorld, emulatorWithWorld } from './test-support.js';

/**
 * Drives every emulated endpoint over HTTP, with successes and errors, while the emulator
 * validates each request and reply against the OpenAPI description. Zero violations expected.
 */
describe('conformance with openapi.json', () => {
  let w: EmulatorWorld;
  beforeAll(async () => {
    w = await emulatorWithWorld({ validateAgainstSpec: true, heartbeatSeconds: 5 });
  });
  afterAll(() => w.emulator.close());

  it('answers every endpoint within the spec', async () => {
    const { api, account, zone } = w;
    const acc = `/accounts/${account.id}`;
    const dns = `/zones/${zone.id}/dns_records`;
    const expectStatus = async (promise: ReturnType<typeof api>, status: number) => {
      const reply = await promise;
      expect(reply.status, JSON.stringify(reply.body)).toBe(status);
      return reply.body.result;
    };

    // Accounts, zones, tokens
    await expectStatus(api('GET', '/accounts?page=1&per_page=20&direction=asc'), 200);
    await expectStatus(api('GET', acc), 200);
    await expectStatus(api('GET', `/accounts/${'0'.repeat(32)}`), 403);
    await expectStatus(api('GET', '/zones?name=example.com&status=active&page=1&per_page=5'), 200);
    await expectStatus(api('GET', `/zones?account.id=${account.id}`), 200);
    await expectStatus(api('GET', `/zones/${zone.id}`), 200);
    await expectStatus(api('GET', '/zones/not-an-id'), 400);
    await expectStatus(api('GET', '/user/tokens/verify'), 200);
    await expectStatus(api('GET', '/user/tokens/verify', undefined, 'unknown-token'), 401);
    await expectStatus(api('GET', `${acc}/tokens/verify`), 200);

    // DNS records
    const cname = {
      type: 'CNAME',
      name: 'app.example.com',
      content: 'x.cfargotunnel.com',
      proxied: true,
      ttl: 1,
    };
    const record = await expectStatus(api('POST', dns, { ...cname, comment: 'tunnelfleet' }), 200);
    await expectStatus(
      api('POST', dns, { type: 'A', name: 'app.example.com', content: '192.0.2.1', ttl: 1 }),
      400,
    );
    await expectStatus(api('POST', dns, { type: 'A', name: 'a.example.com', content: 'nope', ttl: 1 }), 400);
    await expectStatus(
      api('POST', dns, { type: 'TXT', name: 'txt.example.com', content: 'v=1', ttl: 300 }),
      200,
    );
    await expectStatus(
      api('POST', dns, { type: 'MX', name: 'example.com', content: 'mx.example.net', ttl: 1, priority: 10 }),
      200,
    );
    await expectStatus(
      api('GET', `${dns}?name.exact=app.example.com&type=CNAME&comment.startswith=tunnel&match=all`),
      200,
    );
    await expectStatus(
      api('GET', `${dns}?comment.present=true&per_page=2&page=2&order=name&direction=desc`),
      200,
    );
    await expectStatus(
      api('GET', `${dns}?content.contains=cfargotunnel&proxied=true&name.endswith=example.com`),
      200,
    );
    await expectStatus(api('GET', `${dns}/${record.id}`), 200);
    await expectStatus(api('GET', `${dns}/${'f'.repeat(32)}`), 404);
    await expectStatus(api('PUT', `${dns}/${record.id}`, { ...cname, content: 'y.cfargotunnel.com' }), 200);
    await expectStatus(api('PATCH', `${dns}/${record.id}`, { ...cname, comment: 'tunnelfleet:v2' }), 200);
    const batch = await expectStatus(
      api('POST', `${dns}/batch`, {
        deletes: [{ id: record.id }],
        posts: [{ ...cname, name: 'b.example.com' }],
      }),
      200,
    );
    await expectStatus(api('POST', `${dns}/batch`, { deletes: [{ id: record.id }] }), 404);
    await expectStatus(api('DELETE', `${dns}/${batch.posts[0].id}`), 200);
    await expectStatus(api('DELETE', `${dns}/${batch.posts[0].id}`), 404);

    // Tunnels
    const tunnels = `${acc}/cfd_tunnel`;
    const tunnel = await expectStatus(
      api('POST', tunnels, { name: 'host-a', config_src: 'cloudflare' }),
      200,
    );
    await expectStatus(api('POST', tunnels, { name: 'host-a', config_src: 'cloudflare' }), 409);
    await expectStatus(api('GET', `${tunnels}?is_deleted=false&name=host-a&per_page=10&page=1`), 200);
    await expectStatus(api('GET', `${tunnels}/${tunnel.id}`), 200);
    await expectStatus(api('PATCH', `${tunnels}/${tunnel.id}`, { name: 'host-b' }), 200);
    const config = {
      ingress: [
        { hostname: 'app.example.com', service: 'http://web:80', originRequest: { noTLSVerify: true } },
        { hostname: '*.example.com', path: '^/api', service: 'https://api:443' },
        { service: 'http_status:404' },
      ],
    };
    await expectStatus(api('PUT', `${tunnels}/${tunnel.id}/configurations`, { config }), 200);
    await expectStatus(
      api('PUT', `${tunnels}/${tunnel.id}/configurations`, {
        config: { ingress: config.ingress.slice(0, 1) },
      }),
      400,
    );
    await expectStatus(api('GET', `${tunnels}/${tunnel.id}/configurations`), 200);
    const token = await expectStatus(api('GET', `${tunnels}/${tunnel.id}/token`), 200);
    expect(
      (await w.edge('/edge/v1/connect', { token, connector_id: 'run-1', version: 'standin' })).status,
    ).toBe(200);
    const clients = await expectStatus(api('GET', `${tunnels}/${tunnel.id}/connections`), 200);
    expect(clients).toHaveLength(1);
    await expectStatus(api('DELETE', `${tunnels}/${tunnel.id}`), 400);
    await expectStatus(api('DELETE', `${tunnels}/${tunnel.id}/connections?client_id=${clients[0].id}`), 200);
    await expectStatus(api('DELETE', `${tunnels}/${tunnel.id}`), 200);
    await expectStatus(api('GET', `${tunnels}/${tunnel.id}/token`), 404);

    // Access
    const policies = `${acc}/access/policies`;
    const policy = await expectStatus(
      api('POST', policies, {
        name: 'team',
        decision: 'allow',
        include: [{ email: { email: 'a@example.com' } }, { email_domain: { domain: 'example.com' } }],
        exclude: [],
        require: [],
        session_duration: '24h',
      }),
      201,
    );
    await expectStatus(api('POST', policies, { name: 'x', decision: 'maybe', include: [] }), 400);
    await expectStatus(api('GET', `${policies}?page=1&per_page=25`), 200);
    await expectStatus(api('GET', `${policies}/${policy.id}`), 200);
    await expectStatus(
      api('PUT', `${policies}/${policy.id}`, {
        name: 'team',
        decision: 'bypass',
        include: [{ everyone: {} }],
      }),
      200,
    );
    const apps = `${acc}/access/apps`;
    const app = await expectStatus(
      api('POST', apps, {
        type: 'self_hosted',
        domain: 'app.example.com',
        name: 'app',
        session_duration: '24h',
        policies: [{ id: policy.id, precedence: 1 }],
      }),
      201,
    );
    await expectStatus(api('POST', apps, { type: 'self_hosted', domain: 'app.elsewhere.net' }), 400);
    await expectStatus(api('GET', `${apps}?domain=app.example.com&exact=true`), 200);
    await expectStatus(api('GET', `${apps}/${app.id}`), 200);
    await expectStatus(
      api('PUT', `${apps}/${app.id}`, {
        type: 'self_hosted',
        domain: 'app.example.com',
        name: 'app2',
        policies: [policy.id],
      }),
      200,
    );
    await expectStatus(api('DELETE', `${apps}/${app.id}`), 202);
    await expectStatus(api('GET', `${apps}/${app.id}`), 404);
    await expectStatus(api('DELETE', `${policies}/${policy.id}`), 202);
    const zoneApps = `/zones/${zone.id}/access/apps`;
    const zoneApp = await expectStatus(
      api('POST', zoneApps, { type: 'self_hosted', domain: 'z.example.com' }),
      201,
    );
    await expectStatus(api('GET', zoneApps), 200);
    await expectStatus(api('DELETE', `${zoneApps}/${zoneApp.id}`), 202);
    const serviceTokens = `${acc}/access/service_tokens`;
    const serviceToken = await expectStatus(
      api('POST', serviceTokens, { name: 'ci', duration: '8760h' }),
      201,
    );
    await expectStatus(api('GET', serviceTokens), 200);
    await expectStatus(api('GET', `${serviceTokens}/${serviceToken.id}`), 200);
    await expectStatus(api('PUT', `${serviceTokens}/${serviceToken.id}`, { name: 'ci-2' }), 200);
    await expectStatus(api('DELETE', `${serviceTokens}/${serviceToken.id}`), 200);

    // Rate limit storm: 429 with Retry-After is within the spec's 4XX plus the README's header rule.
    w.emulator.faults.set({ rateLimitStorm: true });
    await expectStatus(api('GET', '/zones'), 429);
    w.emulator.faults.clear();

    const violations = w.emulator.specViolations();
    expect(violations.filter((v) => v.kind === 'response')).toEqual([]);
    // The only requests off the spec are the two sent on purpose to provoke validation errors.
    expect(violations.filter((v) => v.kind === 'request').map((v) => v.message)).toEqual([
      '/content must match format "ipv4" {"format":"ipv4"}',
      expect.stringMatching(/^\/decision must be equal to one of the allowed values/),
    ]);
    const covered = Object.keys(w.emulator.countsByRoute());
    // The spec's 44 operations less 6 of account and zone administration the emulator does not
    // serve, plus the /zones variants of list, create and delete Access apps.
    expect(covered).toHaveLength(44 - 6 + 3);
  });
});
