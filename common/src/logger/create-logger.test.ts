import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateAdminToken, generateApiKey } from '../protocol/api-key.js';
import { createLogger } from './create-logger.js';

const apiKey = generateApiKey();
const adminToken = generateAdminToken();
const tunnelToken = Buffer.from(
  JSON.stringify({
    a: 'account-tag-0123',
    t: '0b6a4f6e-3c1f-4a43-9a57-0c1d2e3f4a5b',
    s: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=',
  }),
).toString('base64');
const cloudflareToken = 'Zq3xLmN8pR2sT6vW9yB1cD4fG7hJ0kQ5uE3aI8oP';
const redisPassword = 'r3dis-pa55word-xyz';
const plainPassword = 'correct-horse-battery';

const ALL_SECRETS = [
  apiKey.key,
  apiKey.secret,
  adminToken,
  tunnelToken,
  cloudflareToken,
  redisPassword,
  plainPassword,
];

describe('createLogger redaction (real file destination)', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tf-logger-'));
    file = join(dir, 'log.jsonl');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function logAll(): string {
    const destination = pino.destination({ dest: file, sync: true });
    const logger = createLogger({ name: 'test', level: 'debug', destination, secrets: [cloudflareToken] });

    logger.info({ token: tunnelToken, apiKey: apiKey.key, password: plainPassword }, 'marker-fields');
    logger.info(
      {
        command: { type: 'start_tunnel', payload: { tunnelId: 't1', token: tunnelToken } },
        config: { deep: { deeper: { cloudflareApiToken: cloudflareToken, TUNNEL_TOKEN: tunnelToken } } },
        req: {
          headers: { authorization: `Bearer ${apiKey.key}`, 'x-api-key': apiKey.key, host: 'marker-host' },
        },
      },
      'marker-nested',
    );
    logger.warn(`marker-message key=${apiKey.key} admin=${adminToken} token ${tunnelToken}`);
    logger.info('marker-interpolated %s and %j', `Bearer ${adminToken}`, {
      env: [`TUNNEL_TOKEN=${tunnelToken}`],
    });
    logger.error(new Error(`marker-error: rejected ${apiKey.key}`));
    logger.error(
      { err: new Error(`marker-err-field with ${tunnelToken}`), attempt: 2 },
      'marker-err-wrapper',
    );
    logger.info({ cause: new Error(`wrapped ${cloudflareToken}`) }, 'marker-cause');
    logger.info(`marker-redis connecting to redis://default:${redisPassword}@redis:6379/0`);
    logger.info({ dockerEnv: [`TUNNEL_TOKEN=${tunnelToken}`, 'TZ=UTC'] }, 'marker-env');
    logger.child({ token: tunnelToken, agentId: 'marker-child-binding' }).info('marker-child');
    logger.info({ list: [{ secret: plainPassword }], route: { key: 'marker-route-key' } }, 'marker-array');
    return readFileSync(file, 'utf8');
  }

  it('writes no secret in any form', () => {
    const output = logAll();
    for (const secret of ALL_SECRETS) expect(output).not.toContain(secret);
    // A redacted tunnel token must not survive in part either.
    expect(output).not.toContain(tunnelToken.slice(0, 24));
  });

  it('keeps the surrounding messages and context', () => {
    const lines = logAll()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const messages = lines.map((line) => line.msg);
    expect(messages).toEqual([
      'marker-fields',
      'marker-nested',
      expect.stringContaining('marker-message key='),
      expect.stringContaining('marker-interpolated Bearer [REDACTED]'),
      expect.stringContaining('marker-error: rejected'),
      'marker-err-wrapper',
      'marker-cause',
      'marker-redis connecting to redis://default:[REDACTED]@redis:6379/0',
      'marker-env',
      'marker-child',
      'marker-array',
    ]);
    const text = JSON.stringify(lines);
    expect(text).toContain(`tfk_${apiKey.keyId}_[REDACTED]`);
    expect(text).toContain('marker-host');
    expect(text).toContain('marker-child-binding');
    expect(text).toContain('marker-route-key');
    expect(text).toContain('TZ=UTC');
    expect(lines[0]).toMatchObject({ token: '[REDACTED]', apiKey: '[REDACTED]', password: '[REDACTED]' });
    expect(lines[5]).toMatchObject({ attempt: 2, err: { type: 'Error' } });
    expect((lines[5]!.err as { stack: string }).stack).toContain('create-logger.test.ts');
    expect(lines[6]).toMatchObject({ cause: { type: 'Error', message: 'wrapped [REDACTED]' } });
  });

  it('does not mutate the objects it logs', () => {
    const destination = pino.destination({ dest: file, sync: true });
    const logger = createLogger({ name: 'test', destination });
    const payload = { tunnelId: 't1', token: tunnelToken };
    logger.info({ payload }, 'marker');
    expect(payload.token).toBe(tunnelToken);
    expect(readFileSync(file, 'utf8')).not.toContain(tunnelToken);
  });
});
