import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyTooLargeError, readBody } from './read-body.js';
import { sendJson } from './send-json.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A loopback server answering with what `readBody` made of the request, or its error's code. */
async function echo(maxBytes: number): Promise<string> {
  const server = createServer((req, res) => {
    readBody(req, maxBytes).then(
      (text) => sendJson(res, 200, { text }, { 'x-kind': 'echo' }),
      (error: unknown) =>
        sendJson(res, error instanceof BodyTooLargeError ? error.httpStatus : 500, {
          code: (error as BodyTooLargeError).code,
        }),
    );
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

describe('readBody and sendJson', () => {
  it('reads a body up to the limit as UTF-8 and answers it as JSON with its exact length', async () => {
    const url = await echo(16);
    const response = await fetch(url, { method: 'POST', body: 'héllo wörld' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('x-kind')).toBe('echo');
    const text = await response.text();
    expect(Number(response.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    expect(JSON.parse(text)).toEqual({ text: 'héllo wörld' });
  });

  it('refuses a body over the limit with 413', async () => {
    const url = await echo(16);
    const response = await fetch(url, { method: 'POST', body: 'x'.repeat(17) });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ code: 'body_too_large' });
  });
});
