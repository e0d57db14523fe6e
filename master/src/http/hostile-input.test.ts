import { AGENT_ROUTES, type Command, commandAckPath, MAX_HEARTBEAT_BODY_BYTES } from '@tunnelfleet/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, registerBody, startMasterFixture } from '../../test/master-test-fixture.js';

let fx: MasterFixture;
let alice: Awaited<ReturnType<MasterFixture['enrollAgent']>>;
let bob: Awaited<ReturnType<MasterFixture['enrollAgent']>>;
let bobCommand: Command;

beforeAll(async () => {
  fx = await startMasterFixture();
  alice = await fx.enrollAgent({ name: 'alice' });
  bob = await fx.enrollAgent({ name: 'bob' });
  const answer = await fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=5`, { token: bob.key });
  bobCommand = answer.body.command;
});
afterAll(async () => {
  await fx?.close();
});

/** Every row of every table, to prove a refused request changed nothing. */
function databaseContent(): string {
  const db = fx.master.db;
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
    name: string;
  }[];
  return JSON.stringify(
    tables.map(({ name }) => [name, db.prepare(`SELECT * FROM "${name}" ORDER BY 1`).all()]),
  );
}

const container = {
  id: 'a'.repeat(64),
  name: 'web',
  labels: { 'tunnelfleet.enable': 'true' },
  state: 'running',
  networks: {},
  exposedPorts: [],
};
function snapshot(overrides: Record<string, unknown> = {}) {
  return {
    agentId: alice.agentId,
    sequence: 1,
    observedAt: new Date().toISOString(),
    kind: 'snapshot',
    fingerprint: `sha256:${'0'.repeat(64)}`,
    containers: [container],
    ...overrides,
  };
}

interface Case {
  name: string;
  method: string;
  path: string;
  token: () => string;
  body?: () => unknown;
  rawBody?: () => string;
  contentType?: string;
  status: number;
  code: string;
  /** Part of the message that must name what is wrong. */
  message?: RegExp;
}

const agentKey = () => alice.key;
const admin = () => fx.adminToken;

const cases: Case[] = [
  {
    name: 'report field of the wrong type',
    method: 'POST',
    path: AGENT_ROUTES.reports,
    token: agentKey,
    body: () => snapshot({ sequence: 'one' }),
    status: 400,
    code: 'validation_failed',
    message: /sequence/,
  },
  {
    name: 'container label that is not a string',
    method: 'POST',
    path: AGENT_ROUTES.reports,
    token: agentKey,
    body: () => snapshot({ containers: [{ ...container, labels: { 'tunnelfleet.enable': true } }] }),
    status: 400,
    code: 'validation_failed',
    message: /containers\[0\]\.labels\["tunnelfleet\.enable"\]/,
  },
  {
    name: '__proto__ label key',
    method: 'POST',
    path: AGENT_ROUTES.reports,
    token: agentKey,
    rawBody: () =>
      JSON.stringify(snapshot()).replace('"tunnelfleet.enable":"true"', '"__proto__":{"polluted":"yes"}'),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: '__proto__ member in the register body',
    method: 'POST',
    path: AGENT_ROUTES.register,
    token: agentKey,
    rawBody: () => JSON.stringify(registerBody()).replace(/^\{/, '{"__proto__":{"status":"approved"},'),
    status: 400,
    code: 'validation_failed',
    message: /__proto__/,
  },
  {
    name: 'report for another agent',
    method: 'POST',
    path: AGENT_ROUTES.reports,
    token: agentKey,
    body: () => snapshot({ agentId: bob.agentId }),
    status: 403,
    code: 'forbidden',
    message: /agentId/,
  },
  {
    name: 'heartbeat for another agent',
    method: 'POST',
    path: AGENT_ROUTES.heartbeat,
    token: agentKey,
    body: () => ({
      agentId: bob.agentId,
      uptimeSeconds: 1,
      cloudflared: { state: 'running', ready: true, tunnelId: null, containerId: null },
      lastAppliedCommandVersion: null,
      dockerReachable: true,
    }),
    status: 403,
    code: 'forbidden',
  },
  {
    name: "registering with another agent's id",
    method: 'POST',
    path: AGENT_ROUTES.register,
    token: agentKey,
    body: () => registerBody({ agentId: bob.agentId }),
    status: 403,
    code: 'forbidden',
    message: /agentId/,
  },
  {
    name: "acknowledging another agent's command",
    method: 'POST',
    path: '',
    token: agentKey,
    body: () => ({ commandId: bobCommand.id, version: bobCommand.version, status: 'ok' }),
    status: 404,
    code: 'not_found',
  },
  {
    name: 'ack whose body names another command than its path',
    method: 'POST',
    path: commandAckPath('job-1'),
    token: agentKey,
    body: () => ({ commandId: 'job-2', version: 1, status: 'ok' }),
    status: 400,
    code: 'validation_failed',
    message: /commandId/,
  },
  {
    name: 'report over MAX_AGENT_BODY_BYTES (15.6 MiB)',
    method: 'POST',
    path: AGENT_ROUTES.reports,
    token: agentKey,
    rawBody: () => JSON.stringify(snapshot({ padding: 'x'.repeat(17 * 1024 * 1024) })),
    status: 413,
    code: 'entity_too_large',
  },
  {
    name: 'heartbeat over MAX_HEARTBEAT_BODY_BYTES (about 147 KiB)',
    method: 'POST',
    path: AGENT_ROUTES.heartbeat,
    token: agentKey,
    rawBody: () => JSON.stringify({ agentId: alice.agentId, padding: 'x'.repeat(MAX_HEARTBEAT_BODY_BYTES) }),
    status: 413,
    code: 'entity_too_large',
  },
  {
    name: 'malformed JSON',
    method: 'POST',
    path: AGENT_ROUTES.heartbeat,
    token: agentKey,
    rawBody: () => '{"agentId": ',
    status: 400,
    code: 'entity_parse_failed',
  },
  {
    name: 'a body that is not JSON',
    method: 'POST',
    path: AGENT_ROUTES.heartbeat,
    token: agentKey,
    rawBody: () => 'agentId=x',
    contentType: 'application/x-www-form-urlencoded',
    status: 400,
    code: 'validation_failed',
    message: /application\/json/,
  },
  {
    name: 'wait above the maximum',
    method: 'GET',
    path: `${AGENT_ROUTES.commandsNext}?waitSeconds=3600`,
    token: agentKey,
    status: 400,
    code: 'validation_failed',
    message: /waitSeconds/,
  },
  {
    name: 'path traversal in a command id',
    method: 'POST',
    path: `${AGENT_ROUTES.commandsNext.replace('/next', '')}/..%2F..%2Fadmin%2Fkeys/ack`,
    token: agentKey,
    body: () => ({ commandId: '../../admin/keys', version: 1, status: 'ok' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'SQL in an agent id',
    method: 'POST',
    path: `/api/v1/admin/agents/${encodeURIComponent("x'; DROP TABLE agents; --")}/revoke`,
    token: admin,
    status: 400,
    code: 'validation_failed',
    message: /id/,
  },
  {
    name: 'unknown route status filter',
    method: 'GET',
    path: '/api/v1/admin/routes?status=everything',
    token: admin,
    status: 400,
    code: 'validation_failed',
    message: /status/,
  },
  {
    name: 'key with an invalid allowlist pattern',
    method: 'POST',
    path: '/api/v1/admin/keys',
    token: admin,
    body: () => ({ name: 'x', hostnameAllowlist: ['*.*.example.com'] }),
    status: 400,
    code: 'validation_failed',
    message: /hostnameAllowlist\[0\]/,
  },
  {
    name: 'key with an unknown field',
    method: 'POST',
    path: '/api/v1/admin/keys',
    token: admin,
    body: () => ({ name: 'x', isAdmin: true }),
    status: 400,
    code: 'validation_failed',
    message: /isAdmin/,
  },
  {
    name: 'revoking an unknown agent',
    method: 'POST',
    path: '/api/v1/admin/agents/ag_0000000000000000/revoke',
    token: admin,
    status: 404,
    code: 'not_found',
  },
  {
    name: 'the admin token used as an agent key',
    method: 'POST',
    path: AGENT_ROUTES.heartbeat,
    token: admin,
    body: () => ({}),
    status: 401,
    code: 'unauthenticated',
  },
  {
    name: 'an agent key used as the admin token',
    method: 'POST',
    path: '/api/v1/admin/keys',
    token: agentKey,
    body: () => ({ name: 'sneaky' }),
    status: 401,
    code: 'unauthenticated',
  },
  {
    name: 'an unknown path',
    method: 'GET',
    path: '/api/v1/nothing-here',
    token: agentKey,
    status: 404,
    code: 'not_found',
  },
];

describe('hostile requests get a clear 4xx and change nothing', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const before = databaseContent();
    const path = c.path || commandAckPath(bobCommand.id);
    const answer = await fx.request(c.method, path, {
      token: c.token(),
      ...(c.body ? { body: c.body() } : {}),
      ...(c.rawBody ? { rawBody: c.rawBody() } : {}),
      ...(c.contentType ? { contentType: c.contentType } : {}),
    });
    expect(answer.status).toBe(c.status);
    expect(answer.body.error.code).toBe(c.code);
    expect(typeof answer.body.error.message).toBe('string');
    if (c.message) expect(answer.body.error.message).toMatch(c.message);
    expect(databaseContent()).toBe(before);
  });

  it("leaves the other agent's command deliverable after a foreign ack", async () => {
    // Bob's lease is still running: acknowledging it himself works, so Alice's attempt did nothing.
    const ack = await fx.request('POST', commandAckPath(bobCommand.id), {
      token: bob.key,
      body: { commandId: bobCommand.id, version: bobCommand.version, status: 'ok' },
    });
    expect(ack.status).toBe(200);
  });

  it('binds SQL-looking filters as data', async () => {
    const answer = await fx.admin('GET', `/routes?hostname=${encodeURIComponent("' OR '1'='1")}`);
    expect(answer).toMatchObject({ status: 200, body: { routes: [] } });
    const named = await fx.enrollAgent({ name: "Robert'); DROP TABLE agents; --" });
    expect((await fx.admin('GET', `/agents/${named.agentId}`)).body.agent.name).toBe(
      "Robert'); DROP TABLE agents; --",
    );
  });

  it('never lets a prototype key through to Object.prototype', () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).status).toBeUndefined();
  });
});
