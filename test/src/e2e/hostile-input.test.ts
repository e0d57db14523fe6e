import { AGENT_ROUTES } from '@tunnelfleet/common';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cloudView,
  publishLabels,
  tunnelIdOf,
  uniqueHostname,
  useFleet,
  waitPublished,
  writesTouching,
} from './support.js';

// The fuzzer's report bodies must reach the parser, not stop at the report rate limit.
const fleet = useFleet({ secondEngine: 'docker9', masterEnv: { AGENT_REPORT_BURST: '100000' } });

const CONTAINER_ID = 'c'.repeat(64);

/** A structurally valid container whose labels come from the fuzzer. */
const hostileContainer = fc.record({
  id: fc.constantFrom(CONTAINER_ID, 'd'.repeat(64)),
  name: fc.constantFrom('web', 'api'),
  labels: fc.dictionary(
    fc.oneof(
      fc.constantFrom(
        'tunnelfleet.enable',
        'tunnelfleet.hostname',
        'tunnelfleet.service',
        'tunnelfleet.path',
        'tunnelfleet.access.emails',
        'tunnelfleet.origin.ipRules',
        'dockflare.0.hostname',
        'labelgate.tunnel.x.hostname',
      ),
      fc.string().map((key) => `tunnelfleet.${key}`),
    ),
    fc.oneof(
      fc.string(),
      fc.constantFrom('true', "'; DROP TABLE routes; --", '../../etc/passwd', 'x'.repeat(5000)),
    ),
    { maxKeys: 12 },
  ),
  state: fc.constantFrom('running', 'exited'),
  networks: fc.constant({}),
  exposedPorts: fc.constant([]),
});

/** Report bodies: random JSON, valid reports with hostile labels, and valid ones with one field broken. */
function reportBodies(agentId: string, otherAgentId: string) {
  const valid = (sequence: number, container: unknown) => ({
    agentId,
    sequence,
    observedAt: new Date().toISOString(),
    kind: 'event',
    change: { action: 'upsert', container },
  });
  return fc.oneof(
    fc.anything(),
    fc.tuple(fc.integer({ min: 1, max: 1_000_000 }), hostileContainer).map(([seq, c]) => valid(seq, c)),
    fc
      .tuple(
        fc.integer({ min: 1, max: 1_000_000 }),
        hostileContainer,
        fc.constantFrom('agentId', 'sequence', 'observedAt', 'kind', 'change'),
        fc.oneof(fc.anything(), fc.constant(otherAgentId)),
      )
      .map(([seq, c, field, value]) => ({ ...valid(seq, c), [field]: value })),
  );
}

describe('hostile input', { timeout: 240_000 }, () => {
  it('leaves the master running, answering and unchanged under thousands of fuzzed agent and admin bodies', async () => {
    const { b, master, admin, emulator } = fleet();
    // Compared on host B, whose engine only this file uses (host A also sees other tests' containers).
    const hostname = uniqueHostname('steady', 'example.org');
    await b.runContainer({ labels: publishLabels(hostname) });
    await waitPublished(fleet(), b, hostname);
    const agentB = await b.agentId();
    const tunnelB = await tunnelIdOf(fleet(), b);

    // The attacker holds a key of its own (a pending host: it can report, never publish).
    const { key } = await admin.createKey({ name: 'fuzzer', autoApprove: false });
    fleet().secrets.add('API key fuzzer', key);
    const call = async (method: string, path: string, token: string, body: unknown) => {
      const response = await fetch(`${master.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(method === 'GET' ? {} : { body: body === undefined ? '' : JSON.stringify(body) }),
      });
      await response.arrayBuffer();
      return response.status;
    };
    const registered = await fetch(`${master.url}${AGENT_ROUTES.register}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'fuzzer', agentVersion: '0.0.0', hostname: 'fuzzer', docker: null }),
    });
    expect(registered.status).toBe(200);
    const fuzzerId = ((await registered.json()) as { agentId: string }).agentId;

    const steadyState = async () => {
      const view = cloudView(fleet());
      return JSON.stringify({
        // updatedAt moves with host B's own periodic snapshots.
        routes: (await admin.routes({ agentId: agentB })).map(({ updatedAt: _updatedAt, ...route }) => route),
        agents: (await admin.agents())
          .filter((a: { id: string }) => a.id !== fuzzerId)
          .map(({ id, status, name }: { id: string; status: string; name: string }) => ({
            id,
            status,
            name,
          })),
        conflicts: await admin.conflicts(),
        records: view.records.filter((r) => r.comment?.endsWith(`agent=${agentB}`)),
        ingress: view.ingress.get(tunnelB),
        apps: view.apps,
      });
    };
    const writesAboutB = () => writesTouching(fleet(), tunnelB, 'example.org');
    const before = await steadyState();
    emulator.clearCalls();
    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

    await fc.assert(
      fc.asyncProperty(reportBodies(fuzzerId, agentB), async (body) => {
        const status = await call('POST', AGENT_ROUTES.reports, key, body);
        count(status);
        return status < 500;
      }),
      { numRuns: 1500 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(AGENT_ROUTES.heartbeat, AGENT_ROUTES.register),
        fc.oneof(fc.anything(), fc.record({ agentId: fc.constantFrom(agentB, fuzzerId), name: fc.string() })),
        async (path, body) => {
          const status = await call('POST', path, key, body);
          count(status);
          return status < 500;
        },
      ),
      { numRuns: 500 },
    );
    let keysCreated = 0;
    const keysBefore = (await admin.keys()).length;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          'POST /keys',
          'POST /access-policies',
          'PUT /access-policies/',
          'GET /routes?status=',
        ),
        fc.oneof(fc.anything(), fc.string(), fc.record({ name: fc.string(), spec: fc.anything() })),
        async (endpoint, body) => {
          const [method, path] = endpoint.split(' ') as [string, string];
          const suffix = method === 'POST' ? '' : encodeURIComponent(typeof body === 'string' ? body : 'x');
          const status = await call(method, `/api/v1/admin${path}${suffix}`, master.adminToken, body);
          count(status);
          if (endpoint === 'POST /keys' && status === 201) keysCreated++;
          return status < 500;
        },
      ),
      { numRuns: 1000 },
    );

    // Still running, still answering, nothing of the real hosts or of Cloudflare changed.
    expect(master.running()).toBe(true);
    expect((await fetch(`${master.url}/healthz`)).status).toBe(200);
    expect(await steadyState()).toBe(before);
    expect(writesAboutB()).toEqual([]);
    expect((await admin.keys()).length).toBe(keysBefore + keysCreated);
    expect([...statuses.keys()].every((status) => status < 500)).toBe(true);
    // And the fleet still works.
    const after = uniqueHostname('after-fuzz', 'example.org');
    await b.runContainer({ labels: publishLabels(after) });
    await waitPublished(fleet(), b, after);
  });
});
