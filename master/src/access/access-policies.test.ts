import {
  accessPolicyResponseSchema,
  type Container,
  listRoutesResponseSchema,
  type NamedAccessPolicySpec,
} from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, startMasterFixture } from '../../test/master-test-fixture.js';

const HOSTNAME = 'docs.example.com';
const CF_NAME = 'ops [tunnelfleet]';

/** One container publishing HOSTNAME, its Access given by `accessLabels`. */
function docsContainer(accessLabels: Record<string, string>): Container {
  return {
    id: 'd'.repeat(64),
    name: 'docs',
    labels: {
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': HOSTNAME,
      'tunnelfleet.service': 'http://docs:80',
      ...accessLabels,
    },
    state: 'running',
    networks: {},
    exposedPorts: [{ port: 80, protocol: 'tcp' }],
  };
}

const opsOnly = (email: string): NamedAccessPolicySpec => ({
  decision: 'allow',
  include: [{ email: { email } }],
  require: [],
  exclude: [],
});

describe('named Access policies changed through the admin API', () => {
  let fx: MasterFixture;
  beforeAll(async () => {
    fx = await startMasterFixture({
      // A short debounce, and a cron that does not fire during the test: only the debounced
      // per-target sync can bring the changes to Cloudflare.
      env: { SYNC_DEBOUNCE_MS: '50', RECONCILE_CRON: '0 0 1 1 *' },
    });
    fx.emulator.createZone('example.com', fx.accountId);
  });
  afterAll(async () => {
    await fx?.close();
  });

  /** Full reconciles run so far (the one at start included), from the master's histogram. */
  async function fullReconciles(): Promise<number> {
    const { values } = await fx.master.metrics.reconcileDuration.get();
    return (
      values.find(
        (v) => v.metricName === 'tunnelfleet_reconcile_duration_seconds_count' && v.labels.kind === 'full',
      )?.value ?? 0
    );
  }

  async function route() {
    const answer = await fx.admin('GET', `/routes?hostname=${HOSTNAME}`);
    return listRoutesResponseSchema.parse(answer.body).routes[0];
  }

  /** Our policy and the route's app as the emulator holds them (its views are loosely typed). */
  const cfPolicy = () =>
    (fx.emulator.accessPolicies() as unknown as { id: string; name: string; include: unknown[] }[]).find(
      (p) => p.name === CF_NAME,
    );
  const docsApp = () =>
    (fx.emulator.accessApps() as unknown as { domain: string; policies: { id: string }[] }[]).find(
      (a) => a.domain === HOSTNAME,
    );
  const linkedPolicyIds = () => (docsApp()?.policies ?? []).map((policy) => policy.id);

  it('refuses a bypass policy that names people, as the label parser does', async () => {
    const answer = await fx.admin('POST', '/access-policies', {
      name: 'open-for-staff',
      spec: { decision: 'bypass', include: [{ email_domain: { domain: 'example.com' } }] },
    });
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).toContain('mixes the decision \\"bypass\\"');
  });

  it('reach Cloudflare within the sync debounce, without a reconcile', async () => {
    await waitFor(async () => (await fullReconciles()) === 1, { description: 'the reconcile at start' });
    const agent = await fx.enrollAgent({ name: 'docs-host' });
    let sequence = 0;
    const report = async (container: Container) => {
      const answer = await fx.reportSnapshot(agent, ++sequence, [container]);
      expect(answer.body.status).toBe('accepted');
    };

    // A route naming a policy the master does not have yet is in error, and has no Access app.
    await report(docsContainer({ 'tunnelfleet.access.named_policy': 'ops' }));
    const waiting = await waitFor(async () => ((await route())?.status === 'error' ? route() : undefined), {
      description: `${HOSTNAME} in error for its unknown policy`,
    });
    expect(waiting.statusMessage).toContain('Access policy "ops" is not defined on the master');
    expect(docsApp()).toBeUndefined();

    // Create: the policy is pushed, linked to the route's app, and the route leaves `error`.
    const created = await fx.admin('POST', '/access-policies', {
      name: 'ops',
      spec: opsOnly('ops@example.com'),
    });
    expect(created.status).toBe(201);
    const policyId = accessPolicyResponseSchema.parse(created.body).policy.id;
    await waitFor(async () => (await route())?.status === 'active', { description: `${HOSTNAME} active` });
    const pushed = cfPolicy();
    expect(pushed).toMatchObject({ decision: 'allow', include: [{ email: { email: 'ops@example.com' } }] });
    expect(linkedPolicyIds()).toEqual([pushed!.id]);
    const shown = accessPolicyResponseSchema.parse(
      (await fx.admin('GET', `/access-policies/${policyId}`)).body,
    );
    expect(shown.policy.cfPolicyId).toBe(pushed!.id);

    // Edit: the same Cloudflare policy takes the new rules; the app stays linked to it.
    const edited = await fx.admin('PUT', `/access-policies/${policyId}`, {
      spec: opsOnly('oncall@example.com'),
    });
    expect(edited.status).toBe(200);
    await waitFor(
      () =>
        (cfPolicy()?.include as unknown[] | undefined)?.some((r) => JSON.stringify(r).includes('oncall@')),
      { description: 'the edited rules at Cloudflare' },
    );
    expect(cfPolicy()?.id).toBe(pushed!.id);
    expect(linkedPolicyIds()).toEqual([pushed!.id]);

    // Deleting or renaming a policy a route names would drop the route's Access app: refused.
    const refused = await fx.admin('DELETE', `/access-policies/${policyId}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain(HOSTNAME);
    expect((await fx.admin('PUT', `/access-policies/${policyId}`, { name: 'ops2' })).status).toBe(409);

    // Once the route no longer names it, delete: the policy leaves Cloudflare too.
    await report(docsContainer({ 'tunnelfleet.access.emails': 'someone@example.com' }));
    await waitFor(() => !linkedPolicyIds().includes(pushed!.id), {
      description: 'the app unlinked from ops',
    });
    expect((await fx.admin('DELETE', `/access-policies/${policyId}`)).status).toBe(204);
    await waitFor(() => cfPolicy() === undefined, { description: 'the deleted policy gone from Cloudflare' });
    expect((await route())?.status).toBe('active');

    expect(fx.emulator.specViolations()).toEqual([]);
    // No full reconcile ran besides the one at start: the per-target sync did it all.
    expect(await fullReconciles()).toBe(1);
    const audit = await fx.admin('GET', `/audit?target=${policyId}`);
    expect(audit.body.entries.map((e: { action: string }) => e.action)).toEqual([
      'access_policy.delete',
      'access_policy.update',
      'access_policy.create',
    ]);
  });
});
