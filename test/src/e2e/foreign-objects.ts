import type { Fleet } from '../system/fleet.js';

/**
 * Objects someone else made in the account (a record, a tunnel with its own ingress, an Access
 * app). `unchanged()` says whether they are still exactly as seeded: Tunnelfleet must never touch them.
 */
export function seedForeignObjects(fleet: Fleet) {
  const { emulator, cloudflare } = fleet;
  const suffix = Math.random().toString(36).slice(2, 8);
  const recordName = `foreign-${suffix}.example.com`;
  const appName = `foreign-app-${suffix}.example.com`;
  const record = emulator.seedDnsRecord('example.com', {
    type: 'CNAME',
    name: recordName,
    content: 'elsewhere.example.net',
    proxied: true,
    comment: 'made by hand',
  });
  const tunnel = emulator.seedTunnel(cloudflare.accountId, `someone-elses-tunnel-${suffix}`);
  emulator.seedIngressRule(String(tunnel.id), {
    hostname: 'foreign-app.example.com',
    service: 'http://10.9.9.9:80',
  });
  const app = emulator.seedAccessApp(
    { accountId: cloudflare.accountId },
    { domain: appName, name: 'Hand-made app', type: 'self_hosted' },
  );
  const snapshot = () =>
    JSON.stringify({
      record: emulator.dnsRecords().find((r) => r.id === record.id) ?? null,
      tunnel: emulator.tunnels().find((t) => t.id === tunnel.id) ?? null,
      config: emulator.tunnelConfig(String(tunnel.id)) ?? null,
      app:
        emulator.accessApps().find((a) => (a as { id?: unknown }).id === (app as { id?: unknown }).id) ??
        null,
    });
  const before = snapshot();
  return {
    unchanged: () => snapshot() === before,
    describe: () => ({ before: JSON.parse(before), now: JSON.parse(snapshot()) }),
  };
}
