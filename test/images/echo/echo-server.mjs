// The echo backend (test only). Every request is answered with JSON saying what arrived:
// { server, method, url, headers, bytes, sha256 } — `server` is the container's hostname (its id's
// first 12 characters). `?delay=<ms>` holds the answer that long. Each response carries the
// headers X-Backend-Set, X-Backend-Add and X-Backend-Remove, for response filters to act on.
// Direct calls (from the test, at the container's address, never through the gateway):
//   GET /_echo/seen      the requests answered so far (at most the last 200), oldest first
//   GET /_echo/progress  { bytes } of the request body being received now
// A WebSocket upgrade is accepted and every text or binary message echoed back.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { hostname } from 'node:os';

const server = hostname();
const seen = [];
let receiving = 0;

const json = (res, status, value) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
};

const http = createServer((req, res) => {
  if (req.url === '/_echo/seen') return json(res, 200, seen);
  if (req.url === '/_echo/progress') return json(res, 200, { bytes: receiving });
  const hash = createHash('sha256');
  let bytes = 0;
  receiving = 0;
  req.on('data', (chunk) => {
    hash.update(chunk);
    bytes += chunk.length;
    receiving = bytes;
  });
  req.on('end', () => {
    const echo = {
      server,
      method: req.method,
      url: req.url,
      headers: req.headers,
      bytes,
      sha256: hash.digest('hex'),
    };
    seen.push(echo);
    if (seen.length > 200) seen.shift();
    const delay = Number(new URL(req.url, 'http://x').searchParams.get('delay') ?? 0);
    setTimeout(() => {
      res.setHeader('x-backend-set', 'original');
      res.setHeader('x-backend-add', 'first');
      res.setHeader('x-backend-remove', 'secret');
      json(res, 200, echo);
    }, delay);
  });
});

// RFC 6455, what an echo needs: the handshake, frames of any length, masked from the client.
http.on('upgrade', (req, socket) => {
  const key = req.headers['sec-websocket-key'];
  if (req.headers.upgrade?.toLowerCase() !== 'websocket' || !key) return socket.destroy();
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC11B65`).digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  let buffered = Buffer.alloc(0);
  socket.on('data', (data) => {
    buffered = Buffer.concat([buffered, data]);
    for (;;) {
      if (buffered.length < 2) return;
      const opcode = buffered[0] & 0x0f;
      let length = buffered[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffered.length < 4) return;
        length = buffered.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffered.length < 10) return;
        length = Number(buffered.readBigUInt64BE(2));
        offset = 10;
      }
      const masked = (buffered[1] & 0x80) !== 0;
      const mask = masked ? buffered.subarray(offset, offset + 4) : undefined;
      if (masked) offset += 4;
      if (buffered.length < offset + length) return;
      const payload = Buffer.from(buffered.subarray(offset, offset + length));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      buffered = buffered.subarray(offset + length);
      if (opcode === 0x8) return socket.end(frame(0x8, payload));
      socket.write(frame(opcode === 0x9 ? 0xa : opcode, payload));
    }
  });
  socket.on('error', () => socket.destroy());
});

/** An unmasked (server) frame, FIN set. */
function frame(opcode, payload) {
  const head =
    payload.length < 126
      ? Buffer.from([0x80 | opcode, payload.length])
      : payload.length < 65536
        ? Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(payload.length)]);
  return Buffer.concat([head, payload]);
}

function bigLength(length) {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(BigInt(length));
  return buffer;
}

http.listen(Number(process.env.PORT ?? 8080));
process.on('SIGTERM', () => process.exit(0));
