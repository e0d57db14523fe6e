import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { agentConfigSpec, loadConfig, masterConfigSpec } from '@tunnelfleet/common';
import { describe, expect, it } from 'vitest';
import { AGENT_SET_BY_COMPOSE, ENV_EXAMPLES, MASTER_SET_BY_COMPOSE } from './env-examples.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

/** The active `NAME=value` lines of an env file, as compose reads them. */
function activeValues(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
  );
}

describe('deploy/.env.*.example', () => {
  it.each(Object.entries(ENV_EXAMPLES))(
    '%s matches the config specs (regenerate: node test/dist/deploy/write-env-examples.js)',
    (path, render) => {
      expect(read(path)).toBe(render());
    },
  );

  it('explains every master variable except the ones the compose file sets', () => {
    const text = read('deploy/.env.master.example');
    for (const variable of Object.values(masterConfigSpec)) {
      if (MASTER_SET_BY_COMPOSE.includes(variable.name))
        expect(text).not.toMatch(new RegExp(`^#? ?${variable.name}=`, 'm'));
      else expect(text).toMatch(new RegExp(`^#? ?${variable.name}=`, 'm'));
    }
    expect(text).toMatch(/^# REDIS_PASSWORD_HOST_FILE=\.\/redis_password$/m);
  });

  it('explains every agent variable except the ones the compose file sets', () => {
    const text = read('deploy/.env.agent.example');
    for (const variable of Object.values(agentConfigSpec)) {
      if (AGENT_SET_BY_COMPOSE.includes(variable.name))
        expect(text).not.toMatch(new RegExp(`^#? ?${variable.name}=`, 'm'));
      else expect(text).toMatch(new RegExp(`^#? ?${variable.name}=`, 'm'));
    }
  });

  it('once the blanks are filled in, the services accept the files with what compose adds', () => {
    const master = {
      ...activeValues(read('deploy/.env.master.example')),
      CLOUDFLARE_API_TOKEN: 'filled-in-token',
      REDIS_URL: 'redis://:pw@redis:6379',
    };
    expect(loadConfig(masterConfigSpec, master).cloudflareAccountId).toMatch(/^[0-9a-f]{32}$/);
    const agent = {
      ...activeValues(read('deploy/.env.agent.example')),
      TUNNELFLEET_API_KEY: `tfk_0123456789abcdef_${'A'.repeat(43)}`,
      DOCKER_HOST: 'tcp://socket-proxy:2375',
    };
    expect(loadConfig(agentConfigSpec, agent).dockerHost).toEqual({
      kind: 'tcp',
      host: 'socket-proxy',
      port: 2375,
      protocol: 'http',
    });
  });
});
