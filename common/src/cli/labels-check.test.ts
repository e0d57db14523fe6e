import { describe, expect, it } from 'vitest';
import { runLabelsCheck } from './labels-check.js';

/** Runs the check in this process with `stdin` as standard input; collects what it writes. */
async function check(argv: string[], stdin = '') {
  let stdout = '';
  let stderr = '';
  const code = await runLabelsCheck(argv, {
    stdin: (async function* () {
      yield new TextEncoder().encode(stdin);
    })(),
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

describe('runLabelsCheck (the checker in-process, as tunnelfleet labels runs it)', () => {
  it('reads standard input and writes the report to the given stdout', async () => {
    const result = await check(
      ['check'],
      'tunnelfleet.enable=true\ntunnelfleet.hostname=app.example.com\ntunnelfleet.service=http://web:80\n',
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('1 container, 1 route, 0 invalid, 0 errors, 0 warnings');
  });

  it('exits 1 on label errors and 2 on usage errors, written to the given stderr', async () => {
    expect((await check(['check', '--json'], 'tunnelfleet.enable=true\n')).code).toBe(1);
    const usage = await check(['chek']);
    expect(usage).toMatchObject({ code: 2, stdout: '' });
    expect(usage.stderr).toContain('tunnelfleet-labels: unknown command "chek"');
  });

  it('reports services a key refuses by default, as the master does, and --allow-service opens a kind', async () => {
    const labels = (service: string) =>
      `tunnelfleet.enable=true\ntunnelfleet.hostname=app.example.com\ntunnelfleet.service=${service}\n`;
    for (const [service, rule] of [
      ['http://0xa9.0xfe.0xa9.0xfe', 'link-local'],
      ['http://localhost:8080', 'loopback'],
      ['unix:/var/run/docker.sock', 'unix'],
      ['bastion', 'bastion'],
    ]) {
      const refused = await check(['check'], labels(service!));
      expect(refused.code, service).toBe(1);
      expect(refused.stdout).toContain(`is refused by the key's service policy`);
      expect(refused.stdout).toContain(`--allow-service ${rule}`);
    }
    const socks = await check(
      ['check', '--json'],
      `${labels('http://web:80')}tunnelfleet.origin.proxyType=socks\n`,
    );
    expect(socks.code).toBe(1);
    expect(JSON.parse(socks.stdout)[0].invalidRoutes[0].problems[0]).toMatchObject({
      label: 'tunnelfleet.origin.proxyType',
      severity: 'error',
    });

    const opened = await check(['check', '--allow-service', 'loopback'], labels('http://localhost:8080'));
    expect(opened).toMatchObject({ code: 0, stderr: '' });
    expect(opened.stdout).toContain('1 container, 1 route, 0 invalid, 0 errors');
    const unknown = await check(['check', '--allow-service', 'everything'], labels('http://web:80'));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      '--allow-service takes one of loopback, link-local, unix, bastion, socks',
    );
  });

  it('--require-access judges as a master with REQUIRE_ACCESS=true', async () => {
    const labels =
      'tunnelfleet.enable=true\ntunnelfleet.hostname=app.example.com\ntunnelfleet.service=http://web:80\n';
    expect((await check(['check'], labels)).code).toBe(0);
    const refused = await check(['check', '--json', '--require-access'], labels);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)[0].invalidRoutes[0].problems).toEqual([
      {
        severity: 'error',
        label: 'tunnelfleet.hostname',
        value: 'app.example.com',
        route: 'default',
        message:
          'tunnelfleet.hostname: "app.example.com" has no Access and REQUIRE_ACCESS is on: add access.* ' +
          'labels, or set tunnelfleet.access.public=true to publish it without Access on purpose',
      },
    ]);
    for (const access of ['tunnelfleet.access.public=true', 'tunnelfleet.access.emails=a@example.com']) {
      expect((await check(['check', '--require-access'], `${labels}${access}\n`)).code, access).toBe(0);
    }
    const dockflare = await check(
      ['check', '--require-access'],
      'cloudflare.tunnel.enable=true\ncloudflare.tunnel.hostname=app.example.com\ncloudflare.tunnel.service=http://web:80\n',
    );
    expect(dockflare.code).toBe(1);
    expect(dockflare.stdout).toContain('a bypass policy for everyone keeps it public behind an Access app');
    const bypass = await check(
      ['check', '--require-access'],
      'cloudflare.tunnel.enable=true\ncloudflare.tunnel.hostname=app.example.com\n' +
        'cloudflare.tunnel.service=http://web:80\ncloudflare.tunnel.access.policy=bypass\n',
    );
    expect(bypass.code).toBe(0);
  });

  it('--dockflare-prefix and --labelgate-prefix read labels as an agent with LABEL_PREFIX and LABELGATE_LABEL_PREFIX', async () => {
    const labels =
      'mycorp.enable=true\nmycorp.hostname=app.example.com\nmycorp.service=http://web:80\n' +
      'edge.tunnel.api.hostname=api.example.com\nedge.tunnel.api.service=http://api:80\n';
    const plain = await check(['check', '--json'], labels);
    expect(JSON.parse(plain.stdout)[0].routes).toEqual([]);
    const prefixed = await check(
      ['check', '--json', '--dockflare-prefix', 'mycorp', '--labelgate-prefix', 'edge.'],
      labels,
    );
    expect(prefixed.code).toBe(0);
    expect(
      JSON.parse(prefixed.stdout)[0].routes.map((r: { key: string; hostname: string }) => [
        r.key,
        r.hostname,
      ]),
    ).toEqual([
      ['dockflare', 'app.example.com'],
      ['labelgate.api', 'api.example.com'],
    ]);
  });

  it('refuses a prefix the agent would refuse, with the same message, as a usage error', async () => {
    const refused = await check(['check', '--dockflare-prefix', 'tunnelfleet'], '');
    expect(refused).toMatchObject({ code: 2, stdout: '' });
    expect(refused.stderr).toBe(
      'tunnelfleet-labels: LABEL_PREFIX: "tunnelfleet" overlaps the prefix "tunnelfleet." of a label language Tunnelfleet reads: choose one that neither starts it nor starts with it\n',
    );
  });
});
