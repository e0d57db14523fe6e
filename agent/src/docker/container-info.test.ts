import { describe, expect, it } from 'vitest';
import { exposedPorts } from './container-info.js';

describe('exposedPorts', () => {
  it('parses, defaults to tcp, sorts, and skips what is not a port', () => {
    expect(
      exposedPorts({
        '8080/tcp': {},
        '53/udp': {},
        '443': {},
        '9/sctp': {},
        '0/tcp': {},
        '70000/tcp': {},
        'x/tcp': {},
      }),
    ).toEqual([
      { port: 9, protocol: 'sctp' },
      { port: 53, protocol: 'udp' },
      { port: 443, protocol: 'tcp' },
      { port: 8080, protocol: 'tcp' },
    ]);
  });

  it('handles a container exposing nothing', () => {
    expect(exposedPorts(undefined)).toEqual([]);
  });
});
