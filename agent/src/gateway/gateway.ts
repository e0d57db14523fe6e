import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewayConfig, Logger } from '@tunnelfleet/common';
import { createApiHandler } from './api-server.js';
import { createBackendBalancer } from './backend-balancer.js';
import { createBackendPools } from './backend-pools.js';
import { createGatewayMetrics } from './gateway-metrics.js';
import { createProxy } from './proxy.js';
import { createRequestMirror } from './request-mirror.js';
import { makeDrainable } from './server-drain.js';
import { createTableStore } from './table-store.js';
import { createWakeCoordinator } from './wake-coordinator.js';

export interface Gateway {
  /** Where the proxy and the API listen (their ports once bound, when 0 was asked). */
  proxyPort: number;
  apiPort: number;
  /**
   * Stops accepting, lets requests in flight and kept-alive connections end (at most
   * `drainLimitMs`), then closes the backend pools.
   */
  stop(): Promise<void>;
}

/** Settings of the pools; every value comes from `gatewayConfigSpec`. */
type GatewayOptions = Pick<
  GatewayConfig,
  | 'listenPort'
  | 'listenHost'
  | 'apiPort'
  | 'apiHost'
  | 'apiToken'
  | 'dataDir'
  | 'connectTimeoutMs'
  | 'headersTimeoutMs'
  | 'bodyTimeoutMs'
  | 'keepAliveTimeoutMs'
  | 'healthProbeIntervalMs'
> & {
  logger: Logger;
  /** Longest a stop waits for connections to end: under the container's 30 s stop timeout. */
  drainLimitMs?: number;
};

const DRAIN_LIMIT_MS = 25_000;

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Idle kept-alive connections would hold `close` open; those with a request in flight finish.
    server.closeIdleConnections();
  });
}

/**
 * The L7 gateway: a proxy listener for cloudflared and a local API for the agent. The last stored
 * table is served before either listens, so a restarted gateway routes at once.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const logger = options.logger.child({ component: 'gateway' });
  const pools = createBackendPools(options);
  const balancer = createBackendBalancer({ probeIntervalMs: options.healthProbeIntervalMs, logger });
  // Pools and health of backends the new table no longer names go once their requests end.
  const tables = createTableStore({
    dataDir: options.dataDir,
    logger,
    onSwap: (table) => {
      pools.retain(table.backends);
      balancer.retain(table);
    },
  });
  try {
    await tables.load();
  } catch (error) {
    // Fail closed: not ready and routing nothing until the agent pushes a table.
    logger.error({ err: error }, 'stored routing table ignored');
  }
  const metrics = createGatewayMetrics({ unhealthyBackends: () => balancer.unhealthy().length });
  const wake = createWakeCoordinator({ logger, metrics });
  const mirror = createRequestMirror({ pools, logger });
  const proxy = createProxy({ tables, pools, balancer, mirror, metrics, wake, logger });
  const proxyServer = createServer(proxy.handleRequest);
  proxyServer.on('upgrade', proxy.handleUpgrade);
  const proxyDrain = makeDrainable(proxyServer);
  const apiServer = createServer(
    createApiHandler({ tables, wake, metrics, apiToken: options.apiToken, logger }),
  );
  const proxyPort = await listen(proxyServer, options.listenPort, options.listenHost);
  const apiPort = await listen(apiServer, options.apiPort, options.apiHost);
  logger.info({ proxyPort, apiPort, apiHost: options.apiHost }, 'gateway listening');
  return {
    proxyPort,
    apiPort,
    async stop() {
      wake.close();
      balancer.close();
      await Promise.all([proxyDrain.drain(options.drainLimitMs ?? DRAIN_LIMIT_MS), closeServer(apiServer)]);
      await pools.close();
    },
  };
}
