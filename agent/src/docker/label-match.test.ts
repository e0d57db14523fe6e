import { labelPrefixesOf } from '@tunnelfleet/common';
import { describe, expect, it } from 'vitest';
import { hasTunnelLabels } from './label-match.js';

describe('hasTunnelLabels', () => {
  it.each([
    [{ 'tunnelfleet.enable': 'true' }, true],
    [{ 'tunnelfleet.enabel': 'true' }, true],
    [{ 'dockflare.0.hostname': 'a.example.com' }, true],
    [{ 'cloudflare.tunnel.enable': 'true' }, true],
    [{ 'labelgate.tunnel.main.hostname': 'a.example.com' }, true],
    [{ 'com.docker.compose.project': 'x', maintainer: 'me' }, false],
    [{ tunnelfleet: 'true' }, false],
    [{}, false],
    [null, false],
    [{ 'tunnelfleet.managed': 'cloudflared', 'tunnelfleet.agent-id': 'a' }, false],
  ])('%j → %s', (labels, expected) => {
    expect(hasTunnelLabels(labels, labelPrefixesOf())).toBe(expected);
  });

  it("reports a container labelled only under the host's custom DockFlare or Labelgate prefix", () => {
    const prefixes = labelPrefixesOf({ dockflare: 'mycorp.', labelgate: 'edge.' });
    expect(hasTunnelLabels({ 'mycorp.enable': 'true' }, prefixes)).toBe(true);
    expect(hasTunnelLabels({ 'edge.tunnel.web.hostname': 'a.example.com' }, prefixes)).toBe(true);
    expect(hasTunnelLabels({ 'mycorp.enable': 'true' }, labelPrefixesOf())).toBe(false);
  });

  it('reads only the prefixes it is given', () => {
    expect(hasTunnelLabels({ 'dockflare.enable': 'true' }, ['tunnelfleet.'])).toBe(false);
  });
});
