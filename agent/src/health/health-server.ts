import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@tunnelfleet/common';
import type { HealthReport } from './health-report.js';

export const HEALTH_PATH = '/healthz';

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `GET /healthz`: 200 when healthy, 503 otherwise, with the report as JSON either way so the
 * operator sees why. Anything else is 404. Meant for the image HEALTHCHECK (busybox wget, curl).
 */
export async function startHealthServer(options: {
  port: number;
  host?: string;
  report: () => HealthReport;
  logger: Logger;
}): Promise<HealthServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if ((req.method !== 'GET' && req.method !== 'HEAD') || path !== HEALTH_PATH) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: `only GET ${HEALTH_PATH}` } }));
      return;
    }
    let report: HealthReport;
    try {
      report = options.report();
    } catch (error) {
      options.logger.error({ err: error }, 'health report failed');
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ healthy: false }));
      return;
    }
    const body = JSON.stringify(report);
    res.writeHead(report.healthy ? 200 : 503, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  options.logger.info(
    { port, host: options.host ?? '127.0.0.1', path: HEALTH_PATH },
    'health endpoint listening',
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
