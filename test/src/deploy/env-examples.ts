import {
  agentConfigSpec,
  type ConfigSpec,
  envInt,
  envString,
  envVar,
  masterConfigSpec,
  renderEnvExample,
} from '@tunnelfleet/common';

/**
 * The committed `deploy/.env.*.example` files, rendered from the config specs so they can never
 * miss a variable: the compose-level settings first, then the service's own environment minus
 * what the compose file sets itself.
 */

const IMAGE = envString({ max: 512 });

const masterComposeSpec = {
  redisPasswordHostFile: envVar('REDIS_PASSWORD_HOST_FILE', envString(), {
    doc: 'File on this host holding the password of the bundled Redis, one line:\n(umask 022; openssl rand -hex 32 > redis_password). Both services read it as the secret\n/run/secrets/redis_password; it is never in the environment nor on a command line.',
    example: './redis_password',
    defaultValue: './redis_password',
  }),
  bind: envVar('TUNNELFLEET_BIND', envString(), {
    doc: 'Host address the API port is published on. Keep 127.0.0.1 behind a TLS proxy on this host;\n0.0.0.0 only if the proxy runs elsewhere.',
    example: '127.0.0.1',
    defaultValue: '127.0.0.1',
  }),
  port: envVar('TUNNELFLEET_PORT', envInt(1, 65535), {
    doc: 'Host port the API is published on.',
    example: '8080',
    defaultValue: '8080',
  }),
  masterImage: envVar('TUNNELFLEET_MASTER_IMAGE', IMAGE, {
    doc: 'Master image (pin a version tag in production).',
    example: 'tunnelfleet/master:0.1.0',
    defaultValue: 'tunnelfleet/master:latest',
  }),
  redisImage: envVar('REDIS_IMAGE', IMAGE, {
    doc: 'Redis image (7 or later).',
    example: 'redis:7.4-bookworm',
    defaultValue: 'redis:7.4-bookworm',
  }),
} satisfies ConfigSpec;

const agentComposeSpec = {
  agentImage: envVar('TUNNELFLEET_AGENT_IMAGE', IMAGE, {
    doc: 'Agent image (pin a version tag in production).',
    example: 'tunnelfleet/agent:0.1.0',
    defaultValue: 'tunnelfleet/agent:latest',
  }),
  proxyImage: envVar('DOCKER_SOCKET_PROXY_IMAGE', IMAGE, {
    doc: 'Docker socket proxy image; its permission flags are set in docker-compose.agent.yml.',
    example: 'tecnativa/docker-socket-proxy:latest',
    defaultValue: 'tecnativa/docker-socket-proxy:latest',
  }),
} satisfies ConfigSpec;

/** Variables docker-compose.master.yml sets itself (an .env value would be ignored). */
export const MASTER_SET_BY_COMPOSE = [
  'REDIS_URL',
  'REDIS_PASSWORD_FILE',
  'TUNNELFLEET_DATA_DIR',
  'PORT',
  'HOST',
];
/** Variables docker-compose.agent.yml sets itself. */
export const AGENT_SET_BY_COMPOSE = ['DOCKER_HOST', 'TUNNELFLEET_DATA_DIR'];

function without(spec: ConfigSpec, names: readonly string[]): ConfigSpec {
  return Object.fromEntries(Object.entries(spec).filter(([, variable]) => !names.includes(variable.name)));
}

function header(lines: string[]): string {
  return `${lines.map((line) => `# ${line}`.trimEnd()).join('\n')}\n\n`;
}

function renderMasterEnvExample(): string {
  return (
    header([
      'Tunnelfleet master: copy to .env next to docker-compose.master.yml and fill in the required',
      'values. Generated from the configuration specs (test/src/deploy/env-examples.ts); do not edit',
      `by hand. Set by the compose file itself: ${MASTER_SET_BY_COMPOSE.join(', ')}.`,
      'This file holds secrets: chmod 600 .env',
    ]) +
    renderEnvExample(masterComposeSpec, '--- Compose settings ---') +
    '\n' +
    renderEnvExample(without(masterConfigSpec, MASTER_SET_BY_COMPOSE), '--- Master settings ---')
  );
}

function renderAgentEnvExample(): string {
  const spec = {
    ...without(agentConfigSpec, AGENT_SET_BY_COMPOSE),
    // In a container the host name is the container ID: name the host explicitly.
    agentName: { ...agentConfigSpec.agentName, defaultDoc: 'the container ID, so set it' },
  };
  return (
    header([
      'Tunnelfleet agent: copy to .env next to docker-compose.agent.yml, set the master URL, the API',
      'key (tunnelfleet keys create <name>) and the agent name. Generated from the configuration',
      'specs (test/src/deploy/env-examples.ts); do not edit by hand.',
      `Set by the compose file itself: ${AGENT_SET_BY_COMPOSE.join(', ')}.`,
      'This file holds the API key: chmod 600 .env',
    ]) +
    renderEnvExample(agentComposeSpec, '--- Compose settings ---') +
    '\n' +
    renderEnvExample(spec, '--- Agent settings ---')
  );
}

export const ENV_EXAMPLES = {
  'deploy/.env.master.example': renderMasterEnvExample,
  'deploy/.env.agent.example': renderAgentEnvExample,
} as const;
