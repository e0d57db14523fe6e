import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError } from '../errors/config-error.js';
import { type AgentConfig, agentConfigSpec } from './agent-config.js';
import { envInt, envString } from './env-parsers.js';
import { envVar, optionalEnvVar } from './env-var.js';
import { loadConfig } from './load-config.js';
import { masterConfigSpec } from './master-config.js';
import { renderEnvExample } from './render-env-example.js';

const API_KEY = `tfk_0123456789abcdef_${'A'.repeat(43)}`;

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  const spec = {
    name: envVar('NAME', envString(), { doc: 'A name.', example: 'x' }),
    count: envVar('COUNT', envInt(1, 5), { doc: 'A count.', example: '2', defaultValue: '3' }),
    note: optionalEnvVar('NOTE', envString(), { doc: 'A note.', example: 'hi' }),
  };

  it('applies defaults, leaves optional ones undefined and types the result', () => {
    const config = loadConfig(spec, { NAME: 'a' });
    expect(config).toEqual({ name: 'a', count: 3, note: undefined });
    expectTypeOf(config.count).toEqualTypeOf<number>();
    expectTypeOf(config.note).toEqualTypeOf<string | undefined>();
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig(spec, { NAME: 'a', COUNT: '', NOTE: ' ' })).toEqual({
      name: 'a',
      count: 3,
      note: undefined,
    });
  });

  it('reports every bad variable in one error', () => {
    const error = configError(() => loadConfig(spec, { COUNT: '9' }));
    expect(error.variables).toEqual(['NAME', 'COUNT']);
    expect(error.message).toContain('NAME: required: A name. (example: NAME=x)');
    expect(error.message).toContain('COUNT: must be at most 5 (got "9") (example: COUNT=2)');
  });

  it('never echoes a secret value', () => {
    const error = configError(() =>
      loadConfig(agentConfigSpec, {
        TUNNELFLEET_MASTER_URL: 'https://m',
        TUNNELFLEET_API_KEY: 'hunter2-secret',
      }),
    );
    expect(error.variables).toEqual(['TUNNELFLEET_API_KEY']);
    expect(error.message).not.toContain('hunter2-secret');
  });
});

describe('agent config', () => {
  it('loads with defaults', () => {
    const config: AgentConfig = loadConfig(agentConfigSpec, {
      TUNNELFLEET_MASTER_URL: 'https://tunnelfleet.example.com',
      TUNNELFLEET_API_KEY: API_KEY,
    });
    expect(config.masterUrl.href).toBe('https://tunnelfleet.example.com/');
    expect(config).toMatchObject({
      apiKey: API_KEY,
      agentName: undefined,
      dockerHost: { kind: 'unix', socketPath: '/var/run/docker.sock' },
      cloudflaredImage: 'cloudflare/cloudflared:latest',
      cloudflaredNetwork: 'tunnelfleet',
      reportIntervalSeconds: 30,
      dataDir: '/app/data',
      logLevel: 'info',
      healthPort: 8081,
    });
  });

  it('names each bad variable', () => {
    const error = configError(() =>
      loadConfig(agentConfigSpec, {
        TUNNELFLEET_AGENT_NAME: 'bad name',
        DOCKER_HOST: 'ssh://host',
        CLOUDFLARED_IMAGE: 'img with spaces',
        CLOUDFLARED_NETWORK: '-net',
        REPORT_INTERVAL_SECONDS: '0',
        LOG_LEVEL: 'verbose',
        TUNNELFLEET_HEALTH_PORT: '70000',
      }),
    );
    expect(error.variables).toEqual([
      'TUNNELFLEET_MASTER_URL',
      'TUNNELFLEET_API_KEY',
      'TUNNELFLEET_AGENT_NAME',
      'DOCKER_HOST',
      'CLOUDFLARED_IMAGE',
      'CLOUDFLARED_NETWORK',
      'REPORT_INTERVAL_SECONDS',
      'LOG_LEVEL',
      'TUNNELFLEET_HEALTH_PORT',
    ]);
    expect(error.message).toContain('REPORT_INTERVAL_SECONDS: must be at least 1');
    expect(error.message).toContain(
      'LOG_LEVEL: must be one of trace, debug, info, warn, error, fatal, silent',
    );
  });

  it("reads DockFlare's LABEL_PREFIX and Labelgate's LABELGATE_LABEL_PREFIX, normalized, and names a bad one", () => {
    const base = { TUNNELFLEET_MASTER_URL: 'https://tunnelfleet.example.com', TUNNELFLEET_API_KEY: API_KEY };
    expect(
      loadConfig(agentConfigSpec, { ...base, LABEL_PREFIX: 'mycorp', LABELGATE_LABEL_PREFIX: 'edge.' }),
    ).toMatchObject({
      dockflareLabelPrefix: 'mycorp.',
      labelgateLabelPrefix: 'edge.',
    });
    // The tool's own prefix is no custom prefix.
    expect(
      loadConfig(agentConfigSpec, { ...base, LABELGATE_LABEL_PREFIX: 'labelgate' }).labelgateLabelPrefix,
    ).toBeUndefined();
    const error = configError(() =>
      loadConfig(agentConfigSpec, {
        ...base,
        LABEL_PREFIX: 'tunnelfleet',
        LABELGATE_LABEL_PREFIX: 'my edge',
      }),
    );
    expect(error.variables).toEqual(['LABEL_PREFIX', 'LABELGATE_LABEL_PREFIX']);
    expect(error.message).toContain(
      'LABEL_PREFIX: overlaps the prefix "tunnelfleet." of a label language Tunnelfleet reads: choose one that neither starts it nor starts with it (got "tunnelfleet")',
    );
  });
});

describe('master config', () => {
  const required = {
    CLOUDFLARE_API_TOKEN: 'cf-default-token-123',
    CLOUDFLARE_ACCOUNT_ID: '0123456789abcdef0123456789abcdef',
  };

  it('loads with defaults', () => {
    const config = loadConfig(masterConfigSpec, required);
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      trustProxy: false,
      adminToken: undefined,
      cloudflareApiBaseUrl: undefined,
      cloudflareTokens: undefined,
      gracePeriodSeconds: 600,
      reconcileCron: '*/5 * * * *',
      reportIntervalSeconds: 30,
    });
    expect(config.redisUrl.href).toBe('redis://127.0.0.1:6379');
  });

  it('parses the optional ones', () => {
    const config = loadConfig(masterConfigSpec, {
      ...required,
      CLOUDFLARE_TOKENS: 'tokenA123@example.com',
      CLOUDFLARE_API_BASE_URL: 'http://127.0.0.1:9999/client/v4',
      GRACE_PERIOD_SECONDS: '15m',
    });
    expect(config.cloudflareTokens).toEqual([{ token: 'tokenA123', zones: ['example.com'] }]);
    expect(config.cloudflareApiBaseUrl?.port).toBe('9999');
    expect(config.gracePeriodSeconds).toBe(900);
  });

  it('reads the Redis password from REDIS_PASSWORD_FILE, and names a missing or malformed file without its content', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunnelfleet-config-'));
    try {
      const file = join(dir, 'redis_password');
      writeFileSync(file, 'p4ssw0rd-from-a-secret\n');
      expect(loadConfig(masterConfigSpec, { ...required, REDIS_PASSWORD_FILE: file }).redisPassword).toBe(
        'p4ssw0rd-from-a-secret',
      );

      const missing = configError(() =>
        loadConfig(masterConfigSpec, { ...required, REDIS_PASSWORD_FILE: join(dir, 'absent') }),
      );
      expect(missing.variables).toEqual(['REDIS_PASSWORD_FILE']);
      expect(missing.message).toContain('ENOENT');

      writeFileSync(file, 'line-one-secret\nline-two\n');
      const twoLines = configError(() =>
        loadConfig(masterConfigSpec, { ...required, REDIS_PASSWORD_FILE: file }),
      );
      expect(twoLines.message).toContain('must hold one line');
      expect(twoLines.message).not.toContain('line-one-secret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names each bad variable without echoing secrets', () => {
    const error = configError(() =>
      loadConfig(masterConfigSpec, {
        PORT: 'eighty',
        REDIS_URL: 'http://redis',
        TUNNELFLEET_ADMIN_TOKEN: 'too-short-secret',
        CLOUDFLARE_ACCOUNT_ID: 'XYZ',
        CLOUDFLARE_TOKENS: 'sekrit-token-value@',
        RECONCILE_CRON: 'every 5 minutes',
      }),
    );
    expect(error.variables).toEqual([
      'PORT',
      'REDIS_URL',
      'TUNNELFLEET_ADMIN_TOKEN',
      'CLOUDFLARE_API_TOKEN',
      'CLOUDFLARE_ACCOUNT_ID',
      'CLOUDFLARE_TOKENS',
      'RECONCILE_CRON',
    ]);
    expect(error.message).not.toContain('too-short-secret');
    expect(error.message).not.toContain('sekrit-token-value');
  });
});

describe('renderEnvExample', () => {
  const text = renderEnvExample(agentConfigSpec, 'Tunnelfleet agent');

  it('explains every variable', () => {
    for (const variable of Object.values(agentConfigSpec)) {
      expect(text).toContain(variable.name);
      expect(text).toContain(variable.doc.split('\n')[0]);
    }
  });

  it('leaves required ones active, defaults commented out, secrets blank', () => {
    expect(text).toMatch(/^TUNNELFLEET_MASTER_URL=https:\/\/tunnelfleet\.example\.com$/m);
    expect(text).toMatch(/^TUNNELFLEET_API_KEY=$/m);
    expect(text).toMatch(/^# REPORT_INTERVAL_SECONDS=30$/m);
    expect(text).toContain('# Optional; when unset: the host name.');
  });

  it('renders a file the loader accepts once required values are filled in', () => {
    const env = Object.fromEntries(
      renderEnvExample(masterConfigSpec)
        .split('\n')
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
    );
    expect(Object.keys(env)).toEqual(['CLOUDFLARE_API_TOKEN', 'CLOUDFLARE_ACCOUNT_ID']);
    env.CLOUDFLARE_API_TOKEN = 'filled-in-token';
    expect(loadConfig(masterConfigSpec, env).cloudflareAccountId).toBe('0123456789abcdef0123456789abcdef');
  });
});
