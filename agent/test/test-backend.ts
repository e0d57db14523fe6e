import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface TestBackend {
  url: string;
  name: string;
  seen: SeenRequest[];
  /** TCP connections the backend accepted: fewer than requests means kept alive. */
  connections: number;
  /** Answers every request held by `GET /hold` (200, `released`). */
  release(): void;
  /** Resolves when a request is held at `/hold`. */
  held(): Promise<void>;
  /** Bytes of the request body seen so far by the running `POST /count`. */
  received(): number;
  /** Ends the running `GET /stream` download after its first chunk. */
  finishStream(): void;
  close(): Promise<void>;
}

/**
 * A loopback HTTP backend that says who it is (`x-backend`) and records what it was sent:
 * `GET /hold` waits for `release()`; `POST /count` answers the body's byte count once it ends;
 * `GET /stream` sends one chunk and ends on `finishStream()`; `/status/<code>` answers that status; an `Upgrade` request is echoed back
 * byte for byte after a 101; anything else answers `<name> <method> <url>`.
 */
export async function startTestBackend(name: string): Promise<TestBackend> {
  const seen: SeenRequest[] = [];
  const holding: ServerResponse[] = [];
  let onHeld: (() => void) | undefined;
  let counted = 0;
  let streaming: ServerResponse | undefined;
  let connections = 0;
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.setHeader('x-backend', name);
    if (req.url === '/hold') {
      holding.push(res);
      onHeld?.();
      return;
    }
    if (req.url === '/count') {
      counted = 0;
      req.on('data', (chunk: Buffer) => {
        counted += chunk.length;
      });
      req.on('end', () => res.end(String(counted)));
      return;
    }
    const status = /^\/status\/([1-5][0-9]{2})$/.exec(req.url ?? '');
    if (status) {
      res.statusCode = Number(status[1]);
      res.end(`${name} ${status[1]}`);
      return;
    }
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write('first-chunk');
      streaming = res;
      return;
    }
    res.end(`${name} ${req.method} ${req.url}`);
  });
  server.on('connection', () => {
    connections += 1;
  });
  server.on('upgrade', (req, socket) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${req.headers.upgrade}\r\nx-backend: ${name}\r\n\r\n`,
    );
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    name,
    seen,
    get connections() {
      return connections;
    },
    release() {
      for (const res of holding.splice(0)) res.end('released');
    },
    held: () =>
      holding.length > 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            onHeld = resolve;
          }),
    received: () => counted,
    finishStream() {
      streaming?.end('last-chunk');
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
