import { describe, expect, it } from 'vitest';
import { appLabels, expectedRoute } from '../../test/label-fixtures.js';
import { checkLabelPrefix, checkLabelPrefixes } from './label-prefixes.js';
import { parseContainerLabels } from './parse-container-labels.js';

describe('custom label prefixes', () => {
  it.each([
    ['mycorp', 'mycorp.'],
    ['mycorp.', 'mycorp.'],
    [' my-corp.apps.. ', 'my-corp.apps.'],
    ['My_Corp', 'My_Corp.'],
  ])('DockFlare prefix %j is read as %j, as DockFlare strips and adds the dot', (raw, normalized) => {
    expect(checkLabelPrefix(raw, 'dockflare')).toEqual({ ok: true, value: normalized });
  });

  it("is no custom prefix when it is the tool's own", () => {
    expect(checkLabelPrefix('dockflare', 'dockflare')).toEqual({ ok: true, value: undefined });
    expect(checkLabelPrefix('labelgate.', 'labelgate')).toEqual({ ok: true, value: undefined });
  });

  it.each([
    ['', 'is empty: leave the variable unset to use the default prefix'],
    ['...', 'is empty: leave the variable unset to use the default prefix'],
    ['my corp', 'may hold only letters, digits, "_", "-" and single dots, starting with a letter or digit'],
    ['my..corp', 'may hold only letters, digits, "_", "-" and single dots, starting with a letter or digit'],
    ['.corp', 'may hold only letters, digits, "_", "-" and single dots, starting with a letter or digit'],
    ['corp*', 'may hold only letters, digits, "_", "-" and single dots, starting with a letter or digit'],
    ['x'.repeat(64), 'is longer than 64 characters'],
    [
      'tunnelfleet',
      'overlaps the prefix "tunnelfleet." of a label language Tunnelfleet reads: choose one that neither starts it nor starts with it',
    ],
    [
      'tunnelfleet.admin',
      'overlaps the prefix "tunnelfleet." of a label language Tunnelfleet reads: choose one that neither starts it nor starts with it',
    ],
    [
      'cloudflare',
      'overlaps the prefix "cloudflare.tunnel." of a label language Tunnelfleet reads: choose one that neither starts it nor starts with it',
    ],
    [
      'labelgate',
      'overlaps the prefix "labelgate." of a label language Tunnelfleet reads: choose one that neither starts it nor starts with it',
    ],
    [
      'com.docker.compose',
      'overlaps the prefix "com.docker." of Docker\'s own labels: choose one that neither starts it nor starts with it',
    ],
  ])('refuses DockFlare prefix %j: %s', (raw, reason) => {
    expect(checkLabelPrefix(raw, 'dockflare')).toEqual({ ok: false, reason });
  });

  it('refuses two custom prefixes that overlap, naming both variables', () => {
    expect(checkLabelPrefixes({ dockflare: 'corp', labelgate: 'corp.edge' })).toEqual({
      ok: false,
      reason:
        'LABEL_PREFIX "corp." and LABELGATE_LABEL_PREFIX "corp.edge." overlap: one label would be read by both languages',
    });
    expect(checkLabelPrefixes({ labelgate: 'dockflare' })).toEqual({
      ok: false,
      reason:
        'LABELGATE_LABEL_PREFIX: "dockflare" overlaps the prefix "dockflare." of a label language Tunnelfleet reads: choose one that neither starts it nor starts with it',
    });
  });
});

describe('labels under a custom prefix', () => {
  const dockflareRoute = expectedRoute('dockflare', 'dockflare');
  const labelgateRoute = expectedRoute('labelgate.web', 'labelgate');
  const mycorp = appLabels('mycorp');

  it('are DockFlare labels on a host with that LABEL_PREFIX, and nothing on another host', () => {
    expect(parseContainerLabels(mycorp, { labelPrefixes: { dockflare: 'mycorp.' } }).routes).toEqual([
      dockflareRoute(),
    ]);
    expect(parseContainerLabels(mycorp)).toMatchObject({ enabled: false, routes: [], invalidRoutes: [] });
  });

  it('win over dockflare. and cloudflare.tunnel. key by key, as in DockFlare', () => {
    const result = parseContainerLabels(
      {
        'mycorp.enable': 'true',
        'dockflare.hostname': 'app.example.com',
        'mycorp.service': 'http://web:8080',
        'dockflare.service': 'http://other:9090',
      },
      { labelPrefixes: { dockflare: 'mycorp.' } },
    );
    expect(result.routes).toEqual([dockflareRoute()]);
    expect(result.problems.map((p) => p.message)).toContain(
      'dockflare.service: "http://other:9090" is ignored: mycorp.service is set and wins, as in DockFlare',
    );
  });

  it('name the custom label in their problems, indexed labels too', () => {
    const result = parseContainerLabels(
      { ...mycorp, 'mycorp.0.hostname': 'bad_name.example.com', 'mycorp.0.service': 'http://web:8080' },
      { labelPrefixes: { dockflare: 'mycorp.' } },
    );
    expect(result.invalidRoutes.map((r) => r.problems[0]?.label)).toEqual(['mycorp.0.hostname']);
  });

  it('replace labelgate. on a host with that LABELGATE_LABEL_PREFIX, as Labelgate does', () => {
    const edge = {
      'edge.tunnel.web.hostname': 'app.example.com',
      'edge.tunnel.web.service': 'http://web:8080',
      'edge.tunnel.web.access': 'staff',
      'edge.access.staff.policy.include.emails': 'a@example.com',
    };
    const context = { labelPrefixes: { labelgate: 'edge.' } };
    expect(parseContainerLabels(edge, context).routes).toEqual([
      labelgateRoute({
        access: {
          namedPolicies: [],
          policy: {
            decision: 'allow',
            include: [{ email: { email: 'a@example.com' } }],
            require: [],
            exclude: [],
          },
        },
      }),
    ]);
    const old = {
      'labelgate.tunnel.web.hostname': 'app.example.com',
      'labelgate.tunnel.web.service': 'http://web:8080',
    };
    expect(parseContainerLabels(old, context).routes).toEqual([]);
  });
});
