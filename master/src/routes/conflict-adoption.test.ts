import { waitFor } from '@tunnelfleet/test';
import Cloudflare from 'cloudflare';
import { describe, expect, it } from 'vitest';
import {
  cnames,
  container,
  ingressRules,
  type ReconcilerWorld,
  useReconcilerWorlds,
  webLabels,
} from '../../test/reconciler-test-world.js';
import { deleteAccessPolicy, insertAccessPolicy } from '../store/access-policies.js';
import { listAudit } from '../store/audit-log.js';
import { listConflicts } from '../store/conflicts.js';
import { listRoutes } from '../store/routes.js';
import { type ConflictAdoption, createConflictAdoption } from './conflict-adoption.js';

const startWorld = useReconcilerWorlds();
let world: ReconcilerWorld;
let adoption: ConflictAdoption;

async function start() {
  world = await startWorld();
  adoption = createConflictAdoption({
    db: world.db,
    cloudflare: world.cloudflare,
    hooks: world.reconciler.hooks,
    now: () => new Date(),
  });
}

const records = () => world.emulator.dnsRecords('example.com');
const routeOf = (hostname: string) => listRoutes(world.db).find((r) => r.hostname === hostname);
const openConflict = (hostname: string, kind = 'foreign_dns_record') =>
  listConflicts(world.db).find((c) => c.hostname === hostname && c.kind === kind);

/** A hand-made record in the way of `hostname`, and one beside it that nothing wants. */
function seedForeign(hostname: string) {
  const inTheWay = world.emulator.seedDnsRecord('example.com', {
    type: 'A',
    name: hostname,
    content: '192.0.2.10',
    proxied: false,
    ttl: 300,
    comment: 'the old web server',
  });
  const bystander = world.emulator.seedDnsRecord('example.com', {
    type: 'A',
    name: 'mail.example.com',
    content: '192.0.2.25',
    proxied: false,
    ttl: 300,
  });
  return { inTheWay, bystander };
}

async function conflictFor(agentId: string, hostname: string, more: Record<string, string> = {}) {
  await world.report(agentId, container('web', webLabels(hostname, more)));
  await waitFor(() => openConflict(hostname), {
    description: `the conflict on ${hostname}`,
    timeoutMs: 30_000,
  });
  return openConflict(hostname)!;
}

describe('adopting a foreign DNS record', () => {
  it('shows the record beside our CNAME, then takes it over in place and publishes the route', async () => {
    await start();
    const { agentId, tunnelId } = await world.addAgent();
    const { inTheWay, bystander } = seedForeign('shop.example.com');
    const conflict = await conflictFor(agentId, 'shop.example.com');
    const before = records();

    const preview = await adoption.preview(conflict.id);
    expect(preview).toEqual({
      object: 'dns_record',
      conflictId: conflict.id,
      hostname: 'shop.example.com',
      path: '',
      routeId: routeOf('shop.example.com')!.id,
      agentId,
      recordId: inTheWay.id,
      current: {
        type: 'A',
        name: 'shop.example.com',
        content: '192.0.2.10',
        proxied: false,
        ttl: 300,
        comment: 'the old web server',
        modifiedOn: inTheWay.modified_on,
      },
      desired: {
        type: 'CNAME',
        name: 'shop.example.com',
        content: `${tunnelId}.cfargotunnel.com`,
        proxied: true,
        ttl: 1,
        comment: `managed by tunnelfleet; agent=${agentId}`,
      },
      fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // Looking changes nothing.
    expect(records()).toEqual(before);

    const adopted = await adoption.adopt(conflict.id, preview.fingerprint, 'dashboard:admin:s1');
    expect(adopted).toEqual({
      object: 'dns_record',
      hostname: 'shop.example.com',
      routeId: preview.routeId,
      state: 'done',
    });

    // The same record, now exactly our CNAME; every other record byte for byte as it was.
    const after = records();
    expect(after.find((r) => r.id === inTheWay.id)).toMatchObject({ ...preview.desired, id: inTheWay.id });
    expect(cnames(world, 'shop.example.com')).toHaveLength(1);
    const untouched = (list: typeof before) => list.filter((r) => r.id !== inTheWay.id);
    expect(untouched(after)).toEqual(untouched(before));
    expect(after).toContainEqual(bystander);

    await waitFor(() => routeOf('shop.example.com')?.status === 'active', {
      description: 'the route active',
    });
    await waitFor(() => ingressRules(world, tunnelId).some((r) => r.hostname === 'shop.example.com'), {
      description: 'its ingress rule',
    });
    expect(openConflict('shop.example.com')).toBeUndefined();
    // The zone's syncs keep it as ours: one reconcile later it is still the same record.
    await world.reconciler.reconcileNow();
    expect(cnames(world, 'shop.example.com')).toEqual([expect.objectContaining({ id: inTheWay.id })]);
    const entry = listAudit(world.db, { limit: 50 }).entries.find((e) => e.action === 'conflict.adopt');
    expect(entry).toMatchObject({
      actor: 'dashboard:admin:s1',
      target: 'shop.example.com',
      details: {
        conflictId: conflict.id,
        agentId,
        recordId: inTheWay.id,
        before: preview.current,
        after: preview.desired,
      },
    });
  });

  it('refuses when the record changed after its diff was shown, and writes nothing', async () => {
    await start();
    const { agentId } = await world.addAgent();
    const { inTheWay } = seedForeign('shop.example.com');
    const conflict = await conflictFor(agentId, 'shop.example.com');
    const preview = await adoption.preview(conflict.id);

    // Someone edits the record at Cloudflare meanwhile.
    const client = new Cloudflare({ apiToken: world.cf.defaultToken, baseURL: world.emulator.baseUrl });
    await client.dns.records.edit(String(inTheWay.id), {
      zone_id: inTheWay.zone_id as string,
      type: 'A',
      name: 'shop.example.com',
      content: '192.0.2.99',
      ttl: 300,
    });
    const edited = records();

    await expect(adoption.adopt(conflict.id, preview.fingerprint, 'admin')).rejects.toMatchObject({
      code: 'adoption_stale',
      httpStatus: 409,
    });
    expect(records()).toEqual(edited);
    expect(openConflict('shop.example.com')).toBeDefined();
    expect(listAudit(world.db, { limit: 50 }).entries.map((e) => e.action)).not.toContain('conflict.adopt');

    // A fresh diff shows the edit, and its fingerprint works.
    const again = await adoption.preview(conflict.id);
    expect(again.current).toMatchObject({ content: '192.0.2.99' });
    await adoption.adopt(conflict.id, again.fingerprint, 'admin');
    expect(cnames(world, 'shop.example.com')).toEqual([
      expect.objectContaining({ id: inTheWay.id, type: 'CNAME' }),
    ]);
  });

  it("never hands the record to an agent that only waits for the hostname, nor through that agent's conflict", async () => {
    await start();
    const victim = await world.addAgent();
    const attacker = await world.addAgent();
    const { inTheWay } = seedForeign('shop.example.com');
    const conflict = await conflictFor(victim.agentId, 'shop.example.com');
    // The attacker labels a container with the same hostname: it waits behind the victim's claim.
    await world.report(attacker.agentId, container('evil', webLabels('shop.example.com')));
    await waitFor(() => openConflict('shop.example.com', 'hostname_claimed') !== undefined, {
      description: "the attacker's claim waiting",
    });
    const before = records();

    const claim = openConflict('shop.example.com', 'hostname_claimed')!;
    await expect(adoption.preview(claim.id)).rejects.toMatchObject({
      code: 'adoption_refused',
      details: { reason: 'not_adoptable_kind' },
    });
    const preview = await adoption.preview(conflict.id);
    await expect(adoption.adopt(claim.id, preview.fingerprint, 'admin')).rejects.toMatchObject({
      code: 'adoption_refused',
    });
    expect(records()).toEqual(before);

    // Adopting the victim's conflict gives the record to the victim's tunnel, never the attacker's.
    expect(preview.agentId).toBe(victim.agentId);
    await adoption.adopt(conflict.id, preview.fingerprint, 'admin');
    expect(records().find((r) => r.id === inTheWay.id)).toMatchObject({
      content: `${victim.tunnelId}.cfargotunnel.com`,
      comment: `managed by tunnelfleet; agent=${victim.agentId}`,
    });
    await world.reconciler.reconcileNow();
    expect(ingressRules(world, attacker.tunnelId).some((r) => r.hostname === 'shop.example.com')).toBe(false);
  });

  it("refuses for a route whose hostname left its agent's allowlist", async () => {
    await start();
    const { agentId } = await world.addAgent({ allowlist: ['*.example.com'] });
    seedForeign('shop.example.com');
    const conflict = await conflictFor(agentId, 'shop.example.com');
    const preview = await adoption.preview(conflict.id);
    // The admin narrows the key's allowlist; the agent's next report puts the route outside it.
    world.db
      .prepare('UPDATE agent_keys SET hostname_allowlist = ?')
      .run(JSON.stringify(['*.team.example.com']));
    await world.report(agentId, container('web', webLabels('shop.example.com')));
    await waitFor(() => openConflict('shop.example.com', 'outside_allowlist') !== undefined, {
      description: 'the route outside the allowlist',
    });
    const before = records();
    await expect(adoption.adopt(conflict.id, preview.fingerprint, 'admin')).rejects.toMatchObject({
      code: 'adoption_refused',
      details: { reason: 'route_not_accepted' },
    });
    expect(records()).toEqual(before);
  });

  it('fails closed for Access: no record for a route whose Access application is not in place', async () => {
    await start();
    const { agentId, tunnelId } = await world.addAgent();
    insertAccessPolicy(world.db, {
      id: 'pol_ops',
      name: 'ops',
      spec: {
        decision: 'allow',
        include: [{ email: { email: 'ops@example.com' } }],
        require: [],
        exclude: [],
      },
    });
    const { inTheWay } = seedForeign('ops.example.com');
    const conflict = await conflictFor(agentId, 'ops.example.com', {
      'tunnelfleet.access.named_policy': 'ops',
    });
    const preview = await adoption.preview(conflict.id);
    // The policy is lost before the operator confirms: the route's Access app goes.
    deleteAccessPolicy(world.db, 'pol_ops');
    await world.reconciler.reconcileNow();
    await waitFor(() => world.emulator.accessApps().length === 0, { description: 'the app removed' });
    const before = records();

    await expect(adoption.adopt(conflict.id, preview.fingerprint, 'admin')).rejects.toMatchObject({
      code: 'adoption_refused',
      details: { reason: 'access_pending' },
    });
    expect(records()).toEqual(before);
    expect(records()).toContainEqual(inTheWay);
    expect(ingressRules(world, tunnelId).some((r) => r.hostname === 'ops.example.com')).toBe(false);
  });
});

describe('adopting a foreign ingress rule', () => {
  /** A hand-written rule on the agent's tunnel for `hostname`, between two others nothing wants. */
  function seedRules(tunnelId: string, hostname: string) {
    const legacy = { hostname, service: 'http://old:80', originRequest: { noTLSVerify: true } };
    world.emulator.setTunnelConfig(tunnelId, {
      ingress: [
        { hostname: 'first.example.com', service: 'http://first:80' },
        legacy,
        { hostname: 'last.example.com', service: 'http://last:80' },
        { service: 'http_status:404' },
      ],
    });
    return legacy;
  }

  it('shows the rule beside ours, then the tunnel sync takes it over in place', async () => {
    await start();
    const { agentId, tunnelId } = await world.addAgent();
    seedRules(tunnelId, 'legacy.example.com');
    const web = container('web', webLabels('legacy.example.com'));
    await world.report(agentId, web);
    await waitFor(() => openConflict('legacy.example.com', 'foreign_ingress_rule'), {
      description: 'the conflict with the rule',
      timeoutMs: 30_000,
    });
    const conflict = openConflict('legacy.example.com', 'foreign_ingress_rule')!;
    expect(routeOf('legacy.example.com')?.status).toBe('conflict');
    // A rule in the way keeps no record off (the record points at the tunnel either way).
    await waitFor(() => cnames(world, 'legacy.example.com').length === 1, { description: 'the CNAME' });
    const before = ingressRules(world, tunnelId);
    const recordsBefore = records();

    const preview = await adoption.preview(conflict.id);
    expect(preview).toEqual({
      object: 'ingress_rule',
      conflictId: conflict.id,
      hostname: 'legacy.example.com',
      path: '',
      routeId: routeOf('legacy.example.com')!.id,
      agentId,
      tunnelId,
      current: {
        hostname: 'legacy.example.com',
        path: null,
        service: 'http://old:80',
        originRequest: '{"noTLSVerify":true}',
        other: null,
      },
      desired: {
        hostname: 'legacy.example.com',
        path: null,
        service: 'http://web:80',
        originRequest: null,
        other: null,
      },
      fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(ingressRules(world, tunnelId)).toEqual(before);

    const adopted = await adoption.adopt(conflict.id, preview.fingerprint, 'dashboard:admin:s2');
    expect(adopted).toEqual({
      object: 'ingress_rule',
      hostname: 'legacy.example.com',
      routeId: preview.routeId,
      state: 'syncing',
    });
    await waitFor(() => routeOf('legacy.example.com')?.status === 'active', {
      description: 'the route active',
      timeoutMs: 30_000,
    });
    // In place, rewritten as ours; the rules around it and the zone's records as they were.
    expect(ingressRules(world, tunnelId)).toEqual([
      before[0],
      { hostname: 'legacy.example.com', service: 'http://web:80' },
      before[2],
      before[3],
    ]);
    expect(records()).toEqual(recordsBefore);
    expect(openConflict('legacy.example.com', 'foreign_ingress_rule')).toBeUndefined();
    const actions = listAudit(world.db, { limit: 50 }).entries;
    expect(actions.find((e) => e.action === 'conflict.adopt')).toMatchObject({
      actor: 'dashboard:admin:s2',
      details: { object: 'ingress_rule', tunnelId, before: preview.current, after: preview.desired },
    });
    expect(actions.find((e) => e.action === 'cloudflare.tunnel.ingress.adopt')).toMatchObject({
      details: { adopted: ['legacy.example.com'], changedSinceDiff: [] },
    });

    // Ours from then on: the route's next service is written over it, and it goes with the route.
    await world.report(agentId, {
      ...web,
      labels: webLabels('legacy.example.com', { 'tunnelfleet.service': 'http://web:81' }),
    });
    await waitFor(() => ingressRules(world, tunnelId)[1]?.service === 'http://web:81', {
      description: 'the rule updated',
    });
  });

  it('refuses a rule that changed after its diff was shown, and writes nothing', async () => {
    await start();
    const { agentId, tunnelId } = await world.addAgent();
    const legacy = seedRules(tunnelId, 'legacy.example.com');
    await world.report(agentId, container('web', webLabels('legacy.example.com')));
    await waitFor(() => openConflict('legacy.example.com', 'foreign_ingress_rule'), {
      description: 'the conflict with the rule',
      timeoutMs: 30_000,
    });
    const conflict = openConflict('legacy.example.com', 'foreign_ingress_rule')!;
    const preview = await adoption.preview(conflict.id);
    const edited = ingressRules(world, tunnelId).map((r) =>
      r.hostname === legacy.hostname ? { ...r, service: 'http://other:80' } : r,
    );
    world.emulator.setTunnelConfig(tunnelId, { ingress: edited });

    await expect(adoption.adopt(conflict.id, preview.fingerprint, 'admin')).rejects.toMatchObject({
      code: 'adoption_stale',
    });
    await world.reconciler.reconcileNow();
    expect(ingressRules(world, tunnelId)).toEqual(edited);
    expect(openConflict('legacy.example.com', 'foreign_ingress_rule')).toBeDefined();
    expect(listAudit(world.db, { limit: 50 }).entries.map((e) => e.action)).not.toContain('conflict.adopt');
  });

  it("never hands a rule on the victim's tunnel to another agent", async () => {
    await start();
    const victim = await world.addAgent();
    const attacker = await world.addAgent();
    seedRules(victim.tunnelId, 'legacy.example.com');
    // The attacker claims the hostname first: its own tunnel has no rule in the way, so no
    // conflict of its own; the victim's route waits behind the claim and has nothing to adopt.
    await world.report(attacker.agentId, container('evil', webLabels('legacy.example.com')));
    await waitFor(() => routeOf('legacy.example.com')?.status === 'active', {
      description: "the attacker's route",
    });
    await world.report(victim.agentId, container('web', webLabels('legacy.example.com')));
    await waitFor(() => openConflict('legacy.example.com', 'hostname_claimed'), { description: 'the claim' });
    await world.reconciler.reconcileNow();
    const before = ingressRules(world, victim.tunnelId);
    expect(openConflict('legacy.example.com', 'foreign_ingress_rule')).toBeUndefined();
    const claim = openConflict('legacy.example.com', 'hostname_claimed')!;
    await expect(adoption.preview(claim.id)).rejects.toMatchObject({
      details: { reason: 'not_adoptable_kind' },
    });
    expect(ingressRules(world, victim.tunnelId)).toEqual(before);
  });
});
