import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from './config-error.js';
import { errorBodySchema, toHttpError } from './http-error-body.js';
import {
  AuthenticationError,
  ConflictError,
  ForbiddenError,
  MasterBusyError,
  NotFoundError,
  RateLimitedError,
} from './request-errors.js';
import { TunnelfleetError } from './tunnelfleet-error.js';
import { formatIssuePath, parseOrThrow, ValidationError } from './validation-error.js';

describe('typed errors', () => {
  it.each([
    [new NotFoundError('agent ag_1 not found'), 404, 'not_found'],
    [new ConflictError('app.example.com is claimed by ag_2'), 409, 'conflict'],
    [new AuthenticationError(), 401, 'unauthenticated'],
    [new ForbiddenError('not your command'), 403, 'forbidden'],
    [new RateLimitedError(2.2), 429, 'rate_limited'],
  ])('%s maps to its status and code', (error, status, code) => {
    expect(error).toBeInstanceOf(TunnelfleetError);
    expect(error).toBeInstanceOf(Error);
    const response = toHttpError(error);
    expect(response.status).toBe(status);
    expect(response.body.error.code).toBe(code);
    expect(response.body.error.message).toBe(error.message);
    expect(errorBodySchema.parse(response.body)).toEqual(response.body);
  });

  it('carries the class name and cause', () => {
    const cause = new Error('sqlite busy');
    const error = new ConflictError('x', { cause });
    expect(error.name).toBe('ConflictError');
    expect(error.cause).toBe(cause);
  });

  it('sets Retry-After on rate limiting, rounded up', () => {
    expect(toHttpError(new RateLimitedError(2.2)).headers).toEqual({ 'retry-after': '3' });
  });

  it('answers admission control as a 503 master_busy with Retry-After, not as an opaque 500', () => {
    expect(toHttpError(new MasterBusyError(4.5))).toEqual({
      status: 503,
      headers: { 'retry-after': '5' },
      body: { error: { code: 'master_busy', message: 'the master is busy: retry after Retry-After' } },
    });
  });

  it('hides unknown errors and 5xx details behind an opaque 500', () => {
    for (const error of [
      new Error('SELECT * FROM keys failed'),
      'boom',
      null,
      new TunnelfleetError('db', 'disk full'),
    ]) {
      expect(toHttpError(error)).toEqual({
        status: 500,
        headers: {},
        body: { error: { code: 'internal', message: 'internal error' } },
      });
    }
  });

  it('keeps the message of a middleware 4xx error meant for the client', () => {
    const tooLarge = Object.assign(new Error('request entity too large'), {
      status: 413,
      expose: true,
      type: 'entity.too.large',
    });
    expect(toHttpError(tooLarge)).toEqual({
      status: 413,
      headers: {},
      body: { error: { code: 'entity_too_large', message: 'request entity too large' } },
    });
  });
});

describe('ValidationError', () => {
  const schema = z.strictObject({
    name: z.string(),
    labels: z.record(z.string(), z.string()),
    ports: z.array(z.number()),
  });

  it('names every bad field with a readable path', () => {
    const result = schema.safeParse({
      name: 1,
      labels: { 'tunnelfleet.enable': true },
      ports: ['x'],
      extra: 1,
    });
    const error = ValidationError.fromZod('report body', result.error!);
    expect(error.httpStatus).toBe(400);
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      '',
      'labels["tunnelfleet.enable"]',
      'name',
      'ports[0]',
    ]);
    expect(error.message).toMatch(/^invalid report body: /);
    expect(error.message).toContain(
      'labels["tunnelfleet.enable"]: Invalid input: expected string, received boolean',
    );
    expect(error.message).toContain('Unrecognized key: "extra"');
    expect(toHttpError(result.error).body.error.code).toBe('validation_failed');
  });

  it('summarises long issue lists', () => {
    const issues = Array.from({ length: 25 }, (_, i) => ({ path: `a[${i}]`, reason: 'bad' }));
    const error = new ValidationError('x', issues);
    expect(error.message).toContain('and 15 more');
    expect(error.message).not.toContain('a[10]');
  });

  it('formats paths', () => {
    expect(formatIssuePath([])).toBe('');
    expect(formatIssuePath(['containers', 3, 'labels', 'a b'])).toBe('containers[3].labels["a b"]');
  });

  it('parseOrThrow returns data or throws', () => {
    expect(parseOrThrow(schema, { name: 'a', labels: {}, ports: [1] }, 'body').name).toBe('a');
    expect(() => parseOrThrow(schema, {}, 'body')).toThrow(ValidationError);
  });
});

describe('ConfigError', () => {
  it('lists every variable with its reason and example', () => {
    const error = new ConfigError([
      { variable: 'TUNNELFLEET_MASTER_URL', reason: 'required', example: 'https://master.example.com' },
      { variable: 'REPORT_INTERVAL_SECONDS', reason: 'must be at most 3600' },
    ]);
    expect(error.variables).toEqual(['TUNNELFLEET_MASTER_URL', 'REPORT_INTERVAL_SECONDS']);
    expect(error.message).toContain(
      'TUNNELFLEET_MASTER_URL: required (example: TUNNELFLEET_MASTER_URL=https://master.example.com)',
    );
    expect(error.message).toContain('REPORT_INTERVAL_SECONDS: must be at most 3600');
    expect(error.code).toBe('config_invalid');
  });
});
