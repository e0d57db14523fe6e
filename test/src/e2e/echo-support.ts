import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { GATEWAY_PROXY_PORT } from '@tunnelfleet/common';
import { beforeAll } from 'vitest';
import { buildEchoTestImage, ECHO_TEST_IMAGE } from '../harness/echo-image.js';
import { containerIpAddress } from '../harness/test-containers.js';
import { uniqueName } from '../harness/unique-name.js';
import type { FleetHost } from '../system/fleet.js';

/** What the echo backend (test/images/echo) says it received. */
export interface Echo {
  /** The container's hostname: its id's first 12 characters. */
  server: string;
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  bytes: number;
  sha256: string;
}

export interface EchoContainer {
  name: string;
  /** What it answers as `server`. */
  server: string;
  /** Its address on the host's cloudflared network: the test asks it directly there. */
  address: string;
}

/** Builds the echo image before the file's tests: call after `useGatewayImage` (it is built on that image). */
export function useEchoImage(): void {
  beforeAll(() => buildEchoTestImage(), 120_000);
}

/**
 * An echo container on the host's cloudflared network with these labels (port 8080, the only one
 * it exposes), or the image's load client when `loadClient` is given. Removed with the fleet (it
 * is on the fleet's network).
 */
export async function runEcho(
  host: FleetHost,
  options: { labels?: Record<string, string>; loadClient?: Record<string, string> } = {},
): Promise<EchoContainer> {
  const name = uniqueName(options.loadClient ? 'tf-e2e-load' : 'tf-e2e-echo');
  const container = await host.docker.createContainer({
    name,
    Image: ECHO_TEST_IMAGE,
    Labels: options.labels ?? {},
    ...(options.loadClient
      ? {
          Entrypoint: ['node', '/echo/load-client.mjs'],
          Env: Object.entries(options.loadClient).map(([key, value]) => `${key}=${value}`),
        }
      : {}),
    HostConfig: { Init: true, NetworkMode: host.network },
  });
  await container.start();
  return {
    name,
    server: container.id.slice(0, 12),
    address: await containerIpAddress(host.docker, container.id, host.network),
  };
}

/** A GET straight to a test container (not through the gateway), its JSON answer. */
export function directJson<T>(address: string, port: number, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: address, port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as T);
        } catch (error) {
          reject(error as Error);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The requests an echo container answered so far, oldest first. */
export function echoSeen(echo: EchoContainer): Promise<Echo[]> {
  return directJson<Echo[]>(echo.address, 8080, '/_echo/seen');
}

/**
 * A WebSocket client (RFC 6455: handshake, masked frames) connected through host A's gateway with
 * the public Host, as cloudflared would forward a browser's upgrade.
 */
export async function webSocketThroughGateway(
  address: string,
  hostname: string,
): Promise<{ echo(message: string): Promise<string>; close(): Promise<void> }> {
  const key = randomBytes(16).toString('base64');
  const socket = await new Promise<Socket>((resolve, reject) => {
    const req = httpRequest({
      host: address,
      port: GATEWAY_PROXY_PORT,
      path: '/socket',
      headers: {
        host: hostname,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': key,
      },
    });
    req.on('upgrade', (res, upgraded) => {
      const expected = createHash('sha1')
        .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC11B65`)
        .digest('base64');
      if (res.headers['sec-websocket-accept'] !== expected) {
        upgraded.destroy();
        reject(new Error(`bad Sec-WebSocket-Accept: ${String(res.headers['sec-websocket-accept'])}`));
      } else resolve(upgraded);
    });
    req.on('response', (res) => reject(new Error(`no upgrade: HTTP ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  let buffered = Buffer.alloc(0);
  const waiting: Array<(payload: { opcode: number; text: string }) => void> = [];
  socket.on('data', (data: Buffer) => {
    buffered = Buffer.concat([buffered, data]);
    // Server frames are unmasked; the echo's are short (< 64 KiB) and final.
    while (buffered.length >= 2) {
      let length = buffered[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffered.length < 4) return;
        length = buffered.readUInt16BE(2);
        offset = 4;
      }
      if (buffered.length < offset + length) return;
      const opcode = buffered[0]! & 0x0f;
      const text = buffered.subarray(offset, offset + length).toString('utf8');
      buffered = buffered.subarray(offset + length);
      waiting.shift()?.({ opcode, text });
    }
  });
  const next = () =>
    new Promise<{ opcode: number; text: string }>((resolve, reject) => {
      waiting.push(resolve);
      socket.once('close', () => reject(new Error('the WebSocket closed')));
    });
  const send = (opcode: number, payload: Buffer) => {
    const mask = randomBytes(4);
    const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
    const head =
      payload.length < 126
        ? Buffer.from([0x80 | opcode, 0x80 | payload.length])
        : Buffer.from([0x80 | opcode, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    socket.write(Buffer.concat([head, mask, masked]));
  };
  return {
    async echo(message) {
      const answer = next();
      send(0x1, Buffer.from(message, 'utf8'));
      const { opcode, text } = await answer;
      if (opcode !== 0x1) throw new Error(`expected a text frame, got opcode ${opcode}`);
      return text;
    },
    async close() {
      const answer = next();
      send(0x8, Buffer.from([0x03, 0xe8]));
      const { opcode } = await answer;
      if (opcode !== 0x8) throw new Error(`expected a close frame, got opcode ${opcode}`);
      socket.destroy();
    },
  };
}
