import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type EmulatorWorld, emulatorWithWorld } from './test-support.js';
import { decodeTunnelToken } from './tunnel-token.js';

// Each test its own emulator, with one account whose tunnels live under `base`.
let w: EmulatorWorld;
let base: string;
beforeEach(async () => {
  w = await emulatorWithWorld({ heartbeatSeconds: 1 });
  base = `/accounts/${w.account.id}/cfd_tunnel`;
});
afterEach(() => w.emulator.close());

describe('tunnels', () => {
  const create = async (name: string) =>
    (await w.api('POST', base, { name, config_src: 'cloudflare' })).body.result;
  const tokenOf = async (id: string) => (await w.api('GET', `${base}/${id}/token`)).body.result as string;

  it('creates, lists with filters, renames and soft-deletes', async () => {
    const tunnel = await create('host-a');
    expect(tunnel).toMatchObject({ name: 'host-a', status: 'inactive', tun_type: 'cfd_tunnel' });
    const duplicate = await w.api('POST', base, { name: 'host-a' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.errors[0]?.code).toBe(1013);
    await create('host-b');
    expect((await w.api('GET', `${base}?name=host-b`)).body.result).toHaveLength(1);
    const renamed = await w.api('PATCH', `${base}/${tunnel.id}`, { name: 'host-c' });
    expect(renamed.body.result.name).toBe('host-c');
    expect((await w.api('DELETE', `${base}/${tunnel.id}`)).body.result.deleted_at).toEqual(
      expect.any(String),
    );
    const live = await w.api('GET', `${base}?is_deleted=false`);
    expect(live.body.result.map((t: { name: string }) => t.name)).toEqual(['host-b']);
    const deleted = await w.api('GET', `${base}?is_deleted=true`);
    expect(deleted.body.result.map((t: { id: string }) => t.id)).toEqual([tunnel.id]);
    // The name is free again once its tunnel is deleted.
    expect((await w.api('POST', base, { name: 'host-c' })).status).toBe(200);
    expect((await w.api('GET', `${base}/${tunnel.id}/configurations`)).status).toBe(404);
  });

  it('issues a token carrying the account, tunnel, secret and edge URL', async () => {
    const tunnel = await create('t');
    const payload = decodeTunnelToken(await tokenOf(tunnel.id));
    expect(payload).toMatchObject({ a: w.account.id, t: tunnel.id, e: w.emulator.edgeUrl });
    expect(Buffer.from(payload!.s, 'base64').length).toBe(32);
  });

  it('stores configurations as given and increments the version on every PUT', async () => {
    const tunnel = await create('t');
    const config = {
      ingress: [
        { hostname: 'app.example.com', service: 'http://web:8080', originRequest: { noTLSVerify: true } },
        { hostname: '*.example.com', path: '^/api/.*$', service: 'https://api:443' },
        { service: 'http_status:404' },
      ],
      originRequest: { connectTimeout: 10 },
    };
    const first = await w.api('PUT', `${base}/${tunnel.id}/configurations`, { config });
    expect(first.body.result.version).toBe(1);
    const second = await w.api('PUT', `${base}/${tunnel.id}/configurations`, { config });
    expect(second.body.result.version).toBe(2);
    const read = await w.api('GET', `${base}/${tunnel.id}/configurations`);
    expect(read.body.result).toMatchObject({ version: 2, config, tunnel_id: tunnel.id });
    expect(w.emulator.tunnelConfig(tunnel.id)).toEqual({ version: 2, config });
  });

  it('refuses to delete a tunnel with live connections until they are cleaned up', async () => {
    const tunnel = await create('t');
    const token = await tokenOf(tunnel.id);
    expect(
      (await w.edge('/edge/v1/connect', { token, connector_id: 'run-1', version: 'standin' })).status,
    ).toBe(200);
    const refused = await w.api('DELETE', `${base}/${tunnel.id}`);
    expect(refused.body.errors[0]?.code).toBe(1022);
    await w.api('DELETE', `${base}/${tunnel.id}/connections`);
    expect((await w.api('DELETE', `${base}/${tunnel.id}`)).status).toBe(200);
  });

  it('answers 404 for an unknown tunnel and 7003 for a malformed id', async () => {
    const unknown = await w.api('GET', `${base}/5f0b8c2e-8a5b-4d7e-9f6a-1b2c3d4e5f60`);
    expect(unknown.status).toBe(404);
    const malformed = await w.api('GET', `${base}/not-a-uuid`);
    expect(malformed.body.errors[0]?.code).toBe(7003);
  });
});

describe('edge', () => {
  const setup = async () => {
    const tunnel = (await w.api('POST', base, { name: 'edge-test', config_src: 'cloudflare' })).body.result;
    const token = (await w.api('GET', `${base}/${tunnel.id}/token`)).body.result as string;
    return { tunnel, token };
  };

  it('registers a connector, shows it under connections, and forgets it on disconnect', async () => {
    const { tunnel, token } = await setup();
    const connected = await w.edge('/edge/v1/connect', { token, connector_id: 'run-1', version: 'standin' });
    expect(connected).toMatchObject({ status: 200, body: { heartbeat_seconds: 1 } });
    const connections = await w.api('GET', `${base}/${tunnel.id}/connections`);
    expect(connections.body.result).toHaveLength(1);
    expect(connections.body.result[0].conns[0].id).toBe(connected.body.connection_id);
    expect((await w.api('GET', `${base}/${tunnel.id}`)).body.result.status).toBe('healthy');
    await w.edge('/edge/v1/disconnect', { token, connector_id: 'run-1' });
    expect(w.emulator.tunnelConnections(tunnel.id)).toEqual([]);
    expect((await w.api('GET', `${base}/${tunnel.id}`)).body.result.status).toBe('down');
  });

  it('names each connector by the id cloudflared reports, two at once included', async () => {
    const { tunnel, token } = await setup();
    const first = '5a4e4d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c';
    const second = '0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f';
    await w.edge('/edge/v1/connect', { token, connector_id: first, version: 'standin' });
    await w.edge('/edge/v1/connect', { token, connector_id: second, version: 'standin' });
    const clients = (await w.api('GET', `${base}/${tunnel.id}/connections`)).body.result as Array<{
      id: string;
      conns: Array<{ client_id: string }>;
    }>;
    expect(clients.map((client) => client.id).sort()).toEqual([first, second].sort());
    expect(clients.map((client) => client.conns[0]!.client_id).sort()).toEqual([first, second].sort());
  });

  it('drops a connector that stops calling within three heartbeats', async () => {
    const { tunnel, token } = await setup();
    await w.edge('/edge/v1/connect', { token, connector_id: 'run-1', version: 'standin' });
    expect(w.emulator.tunnelConnections(tunnel.id)).toHaveLength(1);
    const deadline = Date.now() + 10_000;
    while (w.emulator.tunnelConnections(tunnel.id).length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(w.emulator.tunnelConnections(tunnel.id)).toEqual([]);
  });

  it('refuses the old token after the secret is rotated (helper and PATCH)', async () => {
    const { tunnel, token } = await setup();
    w.emulator.rotateTunnelSecret(tunnel.id);
    expect(await w.edge('/edge/v1/connect', { token, connector_id: 'r' })).toEqual({
      status: 401,
      body: { error: 'token rejected' },
    });
    const fresh = (await w.api('GET', `${base}/${tunnel.id}/token`)).body.result as string;
    expect((await w.edge('/edge/v1/connect', { token: fresh, connector_id: 'r' })).status).toBe(200);
    const secret = Buffer.alloc(32, 7).toString('base64');
    await w.api('PATCH', `${base}/${tunnel.id}`, { tunnel_secret: secret });
    expect((await w.edge('/edge/v1/connect', { token: fresh, connector_id: 'r' })).status).toBe(401);
  });

  it('answers 404 once the tunnel is deleted', async () => {
    const { tunnel, token } = await setup();
    await w.api('DELETE', `${base}/${tunnel.id}`);
    expect(await w.edge('/edge/v1/connect', { token, connector_id: 'r' })).toEqual({
      status: 404,
      body: { error: 'tunnel not found' },
    });
  });

  it('rejects garbage tokens', async () => {
    expect((await w.edge('/edge/v1/connect', { token: 'garbage', connector_id: 'r' })).status).toBe(401);
  });
});
