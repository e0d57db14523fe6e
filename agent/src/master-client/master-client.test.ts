import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { COMMAND_POLL_WAIT_HEADER } from '@tunnelfleet/common';
import { freePort, type MasterProcess } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMaster } from '../../test/test-master.js';
import {
  MasterAuthRejectedError,
  MasterBusyError,
  MasterForbiddenError,
  MasterRateLimitedError,
  MasterReplyInvalidError,
  MasterServerError,
  MasterUnreachableError,
} from './errors.js';
import { createMasterClient } from './master-client.js';
import { createMasterLink } from './master-link.js';

const registration = { name: 'host', agentVersion: '0.1.0', hostname: 'host.local', docker: null };
const UNKNOWN_KEY = `tfk_0123456789abcdef_${'u'.repeat(43)}`;

let master: MasterProcess;
// A poll wait of the master's own: the clients must hear it from the master, not assume the default.
const MASTER_POLL_WAIT_SECONDS = 7;
beforeAll(async () => {
  master = await startTestMaster({ env: { COMMAND_POLL_WAIT_SECONDS: String(MASTER_POLL_WAIT_SECONDS) } });
});
afterAll(async () => {
  await master?.close();
});

function client(url: string, apiKey: string) {
  const link = createMasterLink();
  return { link, client: createMasterClient({ masterUrl: url, apiKey, link, requestTimeoutMs: 5_000 }) };
}

/** A loopback server that always answers `status` with `body`: what a broken proxy or master does. */
async function answering(
  status: number,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('master client against the real master', () => {
  it('registers and heartbeats with a valid key, validating the replies', async () => {
    const { client: api, link } = client(
      master.url,
      (await master.admin.createKey({ name: 'client-test' })).key,
    );
    const registered = await api.register(registration);
    expect(registered.status).toBe('approved');
    expect(link.state()).toMatchObject({ reachable: true, revoked: false });
    const beat = await api.heartbeat({
      agentId: registered.agentId,
      uptimeSeconds: 1,
      cloudflared: { state: 'missing', ready: false, tunnelId: null, containerId: null },
      lastAppliedCommandVersion: null,
      dockerReachable: true,
    });
    expect(beat.snapshotRequested).toBe(true);
  });

  it('maps 401 to MasterAuthRejectedError and marks the link revoked, without the key in the message', async () => {
    const { client: api, link } = client(master.url, UNKNOWN_KEY);
    const error = await api.register(registration).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MasterAuthRejectedError);
    expect((error as Error).message).not.toContain(UNKNOWN_KEY);
    expect(link.state()).toMatchObject({ reachable: true, revoked: true });
  });

  it('maps 403 (an agent id that is not ours) to MasterForbiddenError', async () => {
    const { client: api } = client(
      master.url,
      (await master.admin.createKey({ name: 'client-test-403' })).key,
    );
    const { agentId } = await api.register(registration);
    const error = await api
      .heartbeat({
        agentId: `${agentId}x`,
        uptimeSeconds: 1,
        cloudflared: { state: 'missing', ready: false, tunnelId: null, containerId: null },
        lastAppliedCommandVersion: null,
        dockerReachable: true,
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MasterForbiddenError);
  });
});

describe('master client failures', () => {
  it('maps a refused connection to MasterUnreachableError and marks the link down', async () => {
    const { client: api, link } = client(`http://127.0.0.1:${await freePort()}`, UNKNOWN_KEY);
    const error = await api.register(registration).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MasterUnreachableError);
    expect((error as MasterUnreachableError).retryable).toBe(true);
    expect(link.state().reachable).toBe(false);
  });

  it('maps a 5xx to MasterServerError with the master message', async () => {
    const { url, server } = await answering(
      503,
      '{"error":{"code":"redis_down","message":"queue unavailable"}}',
    );
    try {
      const error = await client(url, UNKNOWN_KEY)
        .client.register(registration)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MasterServerError);
      expect((error as Error).message).toContain('queue unavailable');
    } finally {
      server.close();
    }
  });

  it('maps a 503 with Retry-After (admission control) to MasterBusyError carrying it', async () => {
    const { url, server } = await answering(
      503,
      '{"error":{"code":"master_busy","message":"the master is enrolling other hosts"}}',
      { 'retry-after': '12' },
    );
    try {
      const { client: api, link } = client(url, UNKNOWN_KEY);
      const error = await api.register(registration).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MasterBusyError);
      expect((error as MasterBusyError).retryAfterMs).toBe(12_000);
      expect((error as MasterBusyError).retryable).toBe(true);
      expect((error as Error).message).toContain('enrolling other hosts');
      expect(link.state().reachable).toBe(true);
    } finally {
      server.close();
    }
  });

  it('maps a 429 to MasterRateLimitedError carrying Retry-After, and keeps the link up', async () => {
    const { url, server } = await answering(
      429,
      '{"error":{"code":"rate_limited","message":"too many reports from this agent"}}',
      { 'retry-after': '7' },
    );
    try {
      const { client: api, link } = client(url, UNKNOWN_KEY);
      const error = await api.register(registration).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MasterRateLimitedError);
      expect((error as MasterRateLimitedError).retryAfterMs).toBe(7000);
      expect((error as Error).message).toContain('too many reports');
      expect(link.state().reachable).toBe(true);
    } finally {
      server.close();
    }
  });

  it('refuses a 200 whose body breaks the protocol, naming the field', async () => {
    const { url, server } = await answering(200, '{"agentId":"x y","status":"approved"}');
    try {
      const error = await client(url, UNKNOWN_KEY)
        .client.register(registration)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MasterReplyInvalidError);
      expect((error as Error).message).toContain('agentId');
    } finally {
      server.close();
    }
  });

  it("takes the master's advised poll wait from the answer's header", async () => {
    const { client: api } = client(master.url, (await master.admin.createKey({ name: 'poll-wait' })).key);
    await api.register(registration);
    expect(await api.nextCommand({ waitSeconds: 0 })).toEqual({
      command: null,
      advisedWaitSeconds: MASTER_POLL_WAIT_SECONDS,
    });
  });

  it('ignores an advised wait the master would not accept, and a master that advises none', async () => {
    const headers: Array<Record<string, string>> = [
      { [COMMAND_POLL_WAIT_HEADER]: '100000' },
      { [COMMAND_POLL_WAIT_HEADER]: '0' },
      {},
    ];
    for (const header of headers) {
      const { url, server } = await answering(200, '{"command":null}', header);
      try {
        expect(await client(url, UNKNOWN_KEY).client.nextCommand({ waitSeconds: 0 })).toEqual({
          command: null,
        });
      } finally {
        server.close();
      }
    }
  });
});
