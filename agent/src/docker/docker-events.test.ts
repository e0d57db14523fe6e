import { describe, expect, it } from 'vitest';
import { parseDockerEventLine } from './docker-events.js';

describe('parseDockerEventLine', () => {
  it('reads a container event with its labels', () => {
    const line = JSON.stringify({
      Type: 'container',
      Action: 'start',
      Actor: { ID: 'abc123', Attributes: { name: 'web', 'tunnelfleet.enable': 'true' } },
      time: 1,
      extra: 'ignored',
    });
    expect(parseDockerEventLine(line)).toEqual({
      event: {
        Type: 'container',
        Action: 'start',
        Actor: { ID: 'abc123', Attributes: { name: 'web', 'tunnelfleet.enable': 'true' } },
      },
    });
  });

  it('skips blank lines', () => {
    expect(parseDockerEventLine('  ')).toBeUndefined();
  });

  it.each([
    ['{"Type":"container"', 'not JSON'],
    ['42', '(event)'],
    ['{"Type":"container","Action":"start"}', 'Actor'],
    ['{"Type":"container","Action":"start","Actor":{"ID":7}}', 'Actor.ID'],
    ['{"Type":"container","Action":"start","Actor":{"ID":"a","Attributes":{"x":1}}}', 'Actor.Attributes.x'],
  ])('reports %s as a problem naming %s', (line, named) => {
    const parsed = parseDockerEventLine(line);
    expect(parsed).toHaveProperty('problem');
    expect((parsed as { problem: string }).problem).toContain(named);
  });
});
