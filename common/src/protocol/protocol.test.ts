import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { commandAckSchema } from './ack.js';
import { commandSchema, nextCommandQuerySchema, nextCommandResponseSchema } from './command.js';
import type { Container } from './container.js';
import { containerSchema } from './container.js';
import { snapshotFingerprint } from './fingerprint.js';
import { heartbeatRequestSchema } from './heartbeat.js';
import { PROTOCOL_LIMITS } from './limits.js';
import { registerRequestSchema, registerResponseSchema } from './register.js';
import { reportSchema } from './report.js';
import { commandAckPath } from './routes.js';
import { tunnelStateSchema } from './tunnel-state.js';

const TUNNEL_ID = '0b6a4f6e-3c1f-4a43-9a57-0c1d2e3f4a5b';
const TOKEN = 'eyJhIjoiYWNjb3VudCIsInQiOiJ0dW5uZWwiLCJzIjoic2VjcmV0In0=';
const CONTAINER_ID = 'a'.repeat(64);
const NOW = '2025-01-01T00:00:00.000Z';

const container: Container = {
  id: CONTAINER_ID,
  name: 'web',
  image: 'nginx:1.27',
  labels: { 'tunnelfleet.enable': 'true', 'tunnelfleet.hostname': 'app.example.com' },
  state: 'running',
  networks: { tunnelfleet: { ipAddress: '172.18.0.2', aliases: ['web', 'a1'] } },
  exposedPorts: [{ port: 80, protocol: 'tcp' }],
};

const startCommand = {
  id: 'job-1',
  type: 'start_tunnel',
  version: 1,
  issuedAt: NOW,
  lease: { expiresAt: NOW, attempt: 1 },
  payload: {
    tunnelId: TUNNEL_ID,
    tunnelName: 'tf-host-a',
    token: TOKEN,
    cloudflaredImage: 'cloudflare/cloudflared:latest',
    settings: { metricsPort: 2000, extraArgs: ['--edge-ip-version', '4'], protocol: 'quic' },
  },
};

/** Builds a variant of `base` with `patch` applied at `path` (`undefined` deletes). */
function variant(base: unknown, path: string[], value: unknown): unknown {
  const copy = structuredClone(base) as Record<string, unknown>;
  let target = copy;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
  const last = path.at(-1)!;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}

function rejects(schema: z.ZodType, body: unknown): string {
  const result = schema.safeParse(body);
  expect(result.success, 'expected the body to be rejected').toBe(false);
  return JSON.stringify(result.error?.issues);
}

describe('register', () => {
  const valid = {
    name: 'host-a',
    agentVersion: '0.1.0',
    hostname: 'host-a.local',
    docker: { serverVersion: '27.3.1', apiVersion: '1.47', os: 'linux', arch: 'x86_64' },
  };

  it('accepts a request with and without docker info', () => {
    expect(registerRequestSchema.parse(valid)).toEqual(valid);
    expect(registerRequestSchema.parse({ ...valid, name: 'Büro-Server ☁ 東京' }).name).toBe(
      'Büro-Server ☁ 東京',
    );
    expect(registerRequestSchema.parse({ ...valid, docker: null, agentId: 'ag_1' }).agentId).toBe('ag_1');
  });

  it.each([
    ['missing name', ['name'], undefined, 'name'],
    ['name with newline', ['name'], 'a\nb', 'control'],
    ['name with a right-to-left override', ['name'], 'prod-db\u202egpj.exe', 'bidi'],
    ['name with a bidi isolate', ['name'], 'prod\u2066db', 'bidi'],
    ['name with a C1 control', ['name'], 'prod\u0085db', 'control'],
    ['name with a zero-width space', ['name'], 'prod\u200bdb', 'zero-width'],
    ['name with a line separator', ['name'], 'prod\u2028db', 'line-separator'],
    ['hostname with a bidi override', ['hostname'], 'host\u202e', 'bidi'],
    ['huge name', ['name'], 'x'.repeat(10_000), 'name'],
    ['number version', ['agentVersion'], 1, 'agentVersion'],
    ['extra field', ['isAdmin'], true, 'isAdmin'],
    ['bad agent id', ['agentId'], '../../etc/passwd', 'agentId'],
  ])('rejects %s', (_label, path, value, mention) => {
    expect(rejects(registerRequestSchema, variant(valid, path, value))).toContain(mention);
  });

  it('accepts a response with an allowlist and rejects a bad pattern', () => {
    const response = {
      agentId: 'ag_1',
      status: 'approved',
      reportIntervalSeconds: 30,
      allowedHostnames: ['*.apps.example.com', 'app.example.com'],
      serverTime: NOW,
    };
    expect(registerResponseSchema.parse(response)).toEqual(response);
    rejects(registerResponseSchema, { ...response, allowedHostnames: ['a.*.example.com'] });
    rejects(registerResponseSchema, { ...response, status: 'revoked' });
  });
});

describe('heartbeat', () => {
  const valid = {
    agentId: 'ag_1',
    uptimeSeconds: 12,
    cloudflared: { state: 'running', ready: true, tunnelId: TUNNEL_ID, containerId: CONTAINER_ID },
    lastAppliedCommandVersion: 3,
    dockerReachable: true,
  };

  it('accepts a full heartbeat and one before any tunnel', () => {
    expect(heartbeatRequestSchema.parse(valid)).toEqual(valid);
    const fresh = {
      ...valid,
      cloudflared: { state: 'missing', ready: false, tunnelId: null, containerId: null },
      lastAppliedCommandVersion: null,
    };
    expect(heartbeatRequestSchema.parse(fresh)).toEqual(fresh);
  });

  it.each([
    ['unknown cloudflared state', ['cloudflared', 'state'], 'crashed'],
    ['string ready', ['cloudflared', 'ready'], 'yes'],
    ['negative uptime', ['uptimeSeconds'], -1],
    ['fractional version', ['lastAppliedCommandVersion'], 1.5],
    ['non-uuid tunnel', ['cloudflared', 'tunnelId'], 'not-a-uuid'],
    ['extra nested field', ['cloudflared', 'pid'], 1],
  ])('rejects %s', (_label, path, value) => {
    rejects(heartbeatRequestSchema, variant(valid, path, value));
  });

  it("accepts the gateway's report, and refuses an address that is not a gateway's own alias", () => {
    const gateway = {
      state: 'running',
      ready: true,
      serviceUrl: 'http://tunnelfleet-gateway-0123456789ab:8080',
      tableVersion: 4,
      image: 'ghcr.io/example/tunnelfleet-agent:1.2.3',
    };
    expect(heartbeatRequestSchema.parse({ ...valid, gateway })).toEqual({ ...valid, gateway });
    for (const serviceUrl of [
      'http://10.0.0.5:80',
      'http://tunnelfleet-gateway-ab:8080/x',
      'https://evil.example',
    ])
      rejects(heartbeatRequestSchema, { ...valid, gateway: { ...gateway, serviceUrl } });
    rejects(heartbeatRequestSchema, { ...valid, gateway: { ...gateway, state: 'sleeping' } });
  });
});

describe('container', () => {
  it('accepts a realistic container', () => {
    expect(containerSchema.parse(container)).toEqual(container);
  });

  it.each([
    ['unknown state', ['state'], 'zombie'],
    ['non-string label value', ['labels', 'tunnelfleet.enable'], true],
    ['label value too long', ['labels', 'x'], 'v'.repeat(PROTOCOL_LIMITS.labelValueLength + 1)],
    ['port out of range', ['exposedPorts'], [{ port: 70000, protocol: 'tcp' }]],
    ['unknown port protocol', ['exposedPorts'], [{ port: 80, protocol: 'icmp' }]],
    ['upper-case id', ['id'], 'A'.repeat(64)],
    ['network with bad name', ['networks'], { 'bad name!': { ipAddress: '', aliases: [] } }],
  ])('rejects %s', (_label, path, value) => {
    rejects(containerSchema, variant(container, path, value));
  });

  it('rejects more labels than the limit', () => {
    const labels = Object.fromEntries(
      Array.from({ length: PROTOCOL_LIMITS.labelsPerContainer + 1 }, (_, i) => [`k${i}`, 'v']),
    );
    expect(rejects(containerSchema, { ...container, labels })).toContain(
      `at most ${PROTOCOL_LIMITS.labelsPerContainer} entries`,
    );
  });

  /** `container` padded with labels of `char` to at most `bytes` of UTF-8 JSON (within 12 bytes). */
  function containerOfUtf8Bytes(char: string, bytes: number): Container {
    const size = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;
    const labels: Record<string, string> = { ...container.labels };
    const padded = { ...container, labels };
    const charBytes = size(char) - 2;
    const perLabel = Math.floor(PROTOCOL_LIMITS.labelValueLength / char.length);
    for (let n = 0; ; n++) {
      labels[`pad${n}`] = '';
      if (size(padded) > bytes) {
        delete labels[`pad${n}`];
        return padded;
      }
      const count = Math.min(perLabel, Math.floor((bytes - size(padded)) / charBytes));
      labels[`pad${n}`] = char.repeat(count);
      if (count < perLabel) return padded;
    }
  }

  it.each([
    ['é (2 bytes)', 'é'],
    ['€ (3 bytes)', '€'],
    ['😀 (4 bytes, 2 UTF-16 units)', '😀'],
  ])('counts a container JSON size in UTF-8 bytes, not characters: %s', (_name, char) => {
    const limit = PROTOCOL_LIMITS.containerJsonBytes;
    for (const target of [limit - 4, limit - 2, limit]) {
      const within = containerOfUtf8Bytes(char, target);
      // Fewer characters than bytes: a count of characters would pass what bytes refuse.
      expect(JSON.stringify(within).length).toBeLessThan(limit);
      expect(containerSchema.safeParse(within).success).toBe(true);
    }
    const over = containerOfUtf8Bytes(char, limit);
    over.labels.last = char;
    expect(new TextEncoder().encode(JSON.stringify(over)).length).toBeGreaterThan(limit);
    expect(JSON.stringify(over).length).toBeLessThan(limit);
    expect(rejects(containerSchema, over)).toContain(`at most ${limit} bytes of JSON per container`);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('rejects the prototype key %s in labels', (key) => {
    const body = JSON.parse(
      `{"id":"${CONTAINER_ID}","name":"w","labels":{"${key}":"x"},"state":"running","networks":{},"exposedPorts":[]}`,
    );
    expect(rejects(containerSchema, body)).toContain('reserved key name');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('rejects __proto__ as an extra field of a strict object', () => {
    const body = JSON.parse(`{"agentId":"a","uptimeSeconds":1,"__proto__":{"polluted":true}}`);
    rejects(heartbeatRequestSchema, body);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('report', () => {
  const event = {
    kind: 'event',
    agentId: 'ag_1',
    sequence: 10,
    observedAt: NOW,
    change: { action: 'upsert', container },
  };
  const snapshot = {
    kind: 'snapshot',
    agentId: 'ag_1',
    sequence: 11,
    observedAt: NOW,
    fingerprint: snapshotFingerprint([container]),
    containers: [container],
  };

  it('accepts upsert and remove events and a snapshot', () => {
    expect(reportSchema.parse(event)).toEqual(event);
    const removal = { ...event, change: { action: 'remove', containerId: CONTAINER_ID } };
    expect(reportSchema.parse(removal)).toEqual(removal);
    expect(reportSchema.parse(snapshot)).toEqual(snapshot);
  });

  it.each([
    ['unknown kind', event, ['kind'], 'delta'],
    ['unknown action', event, ['change', 'action'], 'destroy'],
    [
      'remove carrying a container',
      event,
      ['change'],
      { action: 'remove', containerId: CONTAINER_ID, container },
    ],
    ['negative sequence', event, ['sequence'], -5],
    ['sequence beyond 2^53', event, ['sequence'], 2 ** 60],
    ['string sequence', event, ['sequence'], '10'],
    ['bad timestamp', event, ['observedAt'], 'yesterday'],
    ['malformed fingerprint', snapshot, ['fingerprint'], 'md5:abc'],
    ['containers not an array', snapshot, ['containers'], { 0: container }],
    ['duplicate container ids', snapshot, ['containers'], [container, container]],
    ['extra top-level field', snapshot, ['admin'], true],
  ])('rejects %s', (_label, base, path, value) => {
    rejects(reportSchema, variant(base, path, value));
  });

  it('rejects a snapshot with more containers than the limit', () => {
    const containers = Array.from({ length: PROTOCOL_LIMITS.containersPerSnapshot + 1 }, (_, i) => ({
      ...container,
      id: i.toString(16).padStart(64, '0'),
    }));
    expect(rejects(reportSchema, { ...snapshot, containers })).toContain('containers');
  });
});

describe('commands', () => {
  it('accepts each command type', () => {
    expect(commandSchema.parse(startCommand)).toEqual(startCommand);
    const stop = {
      id: 'job-2',
      type: 'stop_tunnel',
      version: 2,
      issuedAt: NOW,
      payload: { tunnelId: TUNNEL_ID, reason: 'agent revoked' },
    };
    expect(commandSchema.parse(stop)).toEqual(stop);
    const update = {
      id: 'job-3',
      type: 'update_tunnel',
      version: 3,
      issuedAt: NOW,
      payload: { tunnelId: TUNNEL_ID, token: TOKEN },
    };
    expect(commandSchema.parse(update)).toEqual(update);
  });

  it.each([
    ['unknown type', ['type'], 'rm_rf'],
    ['token with a newline (env injection)', ['payload', 'token'], `${TOKEN}\nEVIL=1`],
    ['token passed as an argument', ['payload', 'settings', 'extraArgs'], ['--token', 'x']],
    ['image with a space', ['payload', 'cloudflaredImage'], 'cloudflared; rm -rf /'],
    ['too many extra args', ['payload', 'settings', 'extraArgs'], Array(33).fill('--x')],
    ['bad protocol', ['payload', 'settings', 'protocol'], 'udp'],
    ['missing payload', ['payload'], undefined],
    ['payload of another type', ['payload'], { tunnelId: TUNNEL_ID, reason: 'x' }],
    ['lease attempt 0', ['lease', 'attempt'], 0],
  ])('rejects %s', (_label, path, value) => {
    rejects(commandSchema, variant(startCommand, path, value));
  });

  it("carries a host's gateway routes in the gateway's own schema, and refuses one it would refuse", () => {
    const route = {
      id: 'route-7',
      hostname: 'app.example.com',
      path: { type: 'prefix', value: '/' },
      backend: { url: 'http://web:8080' },
      wake: { container: 'web', startTimeoutMs: 60_000 },
    };
    const command = {
      id: 'job-9',
      type: 'set_gateway_routes',
      version: 9,
      issuedAt: NOW,
      payload: { routes: [route] },
    };
    expect(commandSchema.parse(command)).toMatchObject({ payload: { routes: [route] } });
    rejects(commandSchema, variant(command, ['payload', 'routes'], [{ ...route, hostname: 'not a host' }]));
    rejects(
      commandSchema,
      variant(command, ['payload', 'routes'], [{ ...route, backend: { url: 'http://u:p@web' } }]),
    );
    rejects(commandSchema, variant(command, ['payload', 'routes'], Array(5001).fill(route)));
  });

  it('rejects an update_tunnel that changes nothing', () => {
    const update = {
      id: 'j',
      type: 'update_tunnel',
      version: 3,
      issuedAt: NOW,
      payload: { tunnelId: TUNNEL_ID },
    };
    expect(rejects(commandSchema, update)).toContain('at least one');
  });

  it('long-poll: null means no command; waitSeconds is coerced and bounded', () => {
    expect(nextCommandResponseSchema.parse({ command: null })).toEqual({ command: null });
    expect(nextCommandResponseSchema.parse({ command: startCommand }).command?.type).toBe('start_tunnel');
    expect(nextCommandQuerySchema.parse({})).toEqual({ waitSeconds: 25 });
    expect(nextCommandQuerySchema.parse({ waitSeconds: '5' })).toEqual({ waitSeconds: 5 });
    rejects(nextCommandQuerySchema, { waitSeconds: '3600' });
    rejects(nextCommandQuerySchema, { waitSeconds: 'abc' });
  });
});

describe('acknowledgement', () => {
  it('accepts ok, error and stale acks', () => {
    const ok = {
      commandId: 'job-1',
      version: 1,
      status: 'ok',
      result: { action: 'started', containerId: CONTAINER_ID },
    };
    expect(commandAckSchema.parse(ok)).toEqual(ok);
    const failed = {
      commandId: 'job-1',
      version: 1,
      status: 'error',
      error: { code: 'pull_failed', message: 'no such image' },
    };
    expect(commandAckSchema.parse(failed)).toEqual(failed);
    expect(commandAckSchema.parse({ commandId: 'job-1', version: 1, status: 'ignored_stale' }).status).toBe(
      'ignored_stale',
    );
  });

  it.each([
    ['error status without error', { commandId: 'j', version: 1, status: 'error' }],
    [
      'ok status with an error',
      { commandId: 'j', version: 1, status: 'ok', error: { code: 'x', message: 'y' } },
    ],
    ['unknown status', { commandId: 'j', version: 1, status: 'done' }],
    [
      'huge error message',
      { commandId: 'j', version: 1, status: 'error', error: { code: 'x', message: 'm'.repeat(5000) } },
    ],
    ['unknown result action', { commandId: 'j', version: 1, status: 'ok', result: { action: 'exploded' } }],
  ])('rejects %s', (_label, body) => {
    rejects(commandAckSchema, body);
  });

  it('encodes the command id in the ack path', () => {
    expect(commandAckPath('job:1/2')).toBe('/api/v1/agent/commands/job%3A1%2F2/ack');
  });
});

describe('tunnel state file', () => {
  const state = {
    schemaVersion: 1,
    tunnelId: TUNNEL_ID,
    tunnelName: 'tf-host-a',
    token: TOKEN,
    cloudflaredImage: 'cloudflare/cloudflared:2025.1.0',
    desiredState: 'running',
    version: 4,
    updatedAt: NOW,
  };

  it('round-trips through JSON', () => {
    expect(tunnelStateSchema.parse(JSON.parse(JSON.stringify(state)))).toEqual(state);
  });

  it.each([
    ['future schema version', ['schemaVersion'], 2],
    ['unknown desired state', ['desiredState'], 'paused'],
    ['missing token', ['token'], undefined],
  ])('rejects %s', (_label, path, value) => {
    rejects(tunnelStateSchema, variant(state, path, value));
  });
});

describe('bounded records', () => {
  it('reports a prototype key in networks by name', () => {
    const body = JSON.parse(
      `{"id":"${CONTAINER_ID}","name":"w","labels":{},"state":"running","networks":{"__proto__":{"ipAddress":"","aliases":[]}},"exposedPorts":[]}`,
    );
    expect(rejects(containerSchema, body)).toContain('"path":["networks","__proto__"]');
  });

  it('rejects an array where a record is expected', () => {
    rejects(containerSchema, { ...container, labels: ['a=b'] });
  });
});
