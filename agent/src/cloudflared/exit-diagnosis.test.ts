import { describe, expect, it } from 'vitest';
import { diagnoseExit } from './exit-diagnosis.js';

// Lines as the real cloudflared 2023.7.3 prints them (real-cloudflared.test.ts runs the binary).
const HELP = [
  'NAME:',
  '   cloudflared tunnel - Use Cloudflare Tunnel to expose private services',
  'OPTIONS:',
];
const OFFLINE = [
  '2026-12-04T21:02:47Z ERR update check failed error="Get \\"https://update.argotunnel.com?…\\": no such host"',
  '2026-12-04T21:02:47Z ERR Initiating shutdown error="Could not lookup srv records on _v2-origintunneld._tcp.argotunnel.com: no such host"',
  '2026-12-04T21:02:47Z INF Metrics server stopped',
  'Could not lookup srv records on _v2-origintunneld._tcp.argotunnel.com: lookup _v2-origintunneld._tcp.argotunnel.com on 127.0.0.11:53: no such host',
];

describe('diagnoseExit', () => {
  it('reads "Incorrect Usage" as a configuration error naming the flag, not to retry, help text left out', () => {
    for (const first of [
      'Incorrect Usage. flag provided but not defined: -no-such-flag',
      'Incorrect Usage: flag provided but not defined: -no-such-flag',
    ]) {
      const diagnosis = diagnoseExit(0, [first, ...HELP]);
      expect(diagnosis).toMatchObject({ code: 'invalid_arguments', retry: false });
      expect(diagnosis.message).toContain('flag provided but not defined: -no-such-flag');
      expect(diagnosis.message).not.toMatch(/NAME:|OPTIONS:/);
    }
  });

  it('reads exit 255 with "Provided Tunnel token is not valid" as a refused token', () => {
    const output = ['Provided Tunnel token is not valid.', "See 'cloudflared tunnel run --help'."];
    expect(diagnoseExit(255, output)).toMatchObject({ code: 'token_refused', retry: false });
  });

  it('reads a failed edge lookup as "cannot reach Cloudflare\'s edge", to retry', () => {
    const diagnosis = diagnoseExit(1, OFFLINE);
    expect(diagnosis).toMatchObject({ code: 'edge_unreachable', retry: true });
    expect(diagnosis.message).toMatch(
      /^cannot reach Cloudflare's edge \(exit code 1\): Could not lookup srv/,
    );
  });

  it('keeps the last words of any other exit, to retry', () => {
    const diagnosis = diagnoseExit(3, ['starting', 'ERR something broke']);
    expect(diagnosis).toMatchObject({ code: 'exited', retry: true });
    expect(diagnosis.message).toBe('cloudflared exited with exit code 3: starting | ERR something broke');
  });
});
