import { describe, expect, it } from 'vitest';
import { DEFAULT_LABEL_PREFIXES, hasTunnelLabels } from './label-match.js';

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
    expect(hasTunnelLabels(labels, DEFAULT_LABEL_PREFIXES)).toBe(expected);
  });

  it('reads only the prefixes it is given', () => {
    expect(hasTunnelLabels({ 'dockflare.enable': 'true' }, ['tunnelfleet.'])).toBe(false);
  });
});
