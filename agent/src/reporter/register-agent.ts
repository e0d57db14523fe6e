import type { Logger, RegisterRequest, RegisterResponse } from '@tunnelfleet/common';
import {
  createRetryDelay,
  type MasterClient,
  MasterForbiddenError,
  pause,
  type RetryDelayOptions,
} from '../master-client/index.js';
import type { TunnelStateCache } from '../state/index.js';

interface RegisterAgentOptions {
  client: MasterClient;
  cache: TunnelStateCache;
  logger: Logger;
  /** Without `agentId`: the cached one is added here. */
  request: () => Promise<Omit<RegisterRequest, 'agentId'>>;
  signal: AbortSignal;
  retry?: RetryDelayOptions;
}

/**
 * Registers until the master answers, then persists the agent id it gave. The cached id is sent so
 * a restart keeps its identity; if the master refuses it (403: the id belongs to another key, as
 * after re-enrolling a revoked host with a new key) the agent registers afresh. Resolves undefined
 * only when aborted.
 */
export async function registerAgent(options: RegisterAgentOptions): Promise<RegisterResponse | undefined> {
  const { client, cache, signal } = options;
  const logger = options.logger.child({ component: 'register' });
  const retry = createRetryDelay(options.retry);
  let cachedId = await cache.readAgentId();
  while (!signal.aborted) {
    try {
      const response = await client.register({
        ...(await options.request()),
        ...(cachedId ? { agentId: cachedId } : {}),
      });
      if (response.agentId !== cachedId) await cache.writeAgentId(response.agentId);
      logger.info(
        { agentId: response.agentId, status: response.status, message: response.message },
        'registered with the master',
      );
      return response;
    } catch (error) {
      if (signal.aborted) break;
      if (error instanceof MasterForbiddenError && cachedId) {
        logger.warn(
          { err: error, agentId: cachedId },
          'the master refused the cached agent id; registering as a new agent',
        );
        cachedId = undefined;
        continue;
      }
      logger.debug({ err: error }, 'registration failed; retrying');
      await pause(retry.next(error), signal).done;
    }
  }
  return undefined;
}
