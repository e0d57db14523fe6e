import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AGENT_ROUTES } from '@tunnelfleet/common';

interface ReceivedReport {
  kind: 'event' | 'snapshot';
  /** Upstream status: only reports the master answered reached it. */
  status: number;
  containerIds: string[];
}

export interface RecordingProxy {
  url: string;
  /** Reports the master answered, in order. */
  reports: ReceivedReport[];
  close(): Promise<void>;
}

export interface RecordingProxyOptions {
  /**
   * Like nginx's `proxy_read_timeout`: a request the master has not begun to answer by then gets a
   * `504` from the proxy, and its upstream request is dropped. Unset: the proxy waits as long as it takes.
   */
  readTimeoutMs?: number;
}

/**
 * Plain HTTP forwarder between agent and master that records the reports the master answered.
 * When the master is down the agent's connection is dropped, exactly as if it called the master.
 */
export async function startRecordingProxy(
  upstream: string,
  options: RecordingProxyOptions = {},
): Promise<RecordingProxy> {
  const target = new URL(upstream);
  const reports: ReceivedReport[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const forward = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          clearTimeout(readTimeout);
          if (req.method === 'POST' && req.url === AGENT_ROUTES.reports)
            reports.push(describe(body, answer.statusCode ?? 0));
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      const readTimeout =
        options.readTimeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              forward.destroy();
              res.writeHead(504, { 'content-type': 'text/html' });
              res.end('<html><head><title>504 Gateway Time-out</title></head></html>');
            }, options.readTimeoutMs);
      forward.on('error', () => {
        if (!res.headersSent) res.socket?.destroy();
      });
      res.on('close', () => {
        clearTimeout(readTimeout);
        forward.destroy();
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    reports,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function describe(body: Buffer, status: number): ReceivedReport {
  const report = JSON.parse(body.toString('utf8')) as {
    kind: 'event' | 'snapshot';
    containers?: { id: string }[];
    change?: { action: string; container?: { id: string }; containerId?: string };
  };
  const containerIds =
    report.kind === 'snapshot'
      ? (report.containers ?? []).map((c) => c.id)
      : [report.change?.container?.id ?? report.change?.containerId ?? ''];
  return { kind: report.kind, status, containerIds };
}
