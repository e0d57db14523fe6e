import { createKeyedMutex, type Logger } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { isConflict, isNotFound } from './docker-errors.js';

export interface NetworkEnsurer {
  /** Creates `name` unless it exists; concurrent calls for one name create it once. */
  ensure(name: string, options: { internal: boolean; labels: Record<string, string> }): Promise<void>;
}

/**
 * One per agent, shared by every supervisor that needs the same networks (cloudflared, the
 * gateway). Docker's `CheckDuplicate` is best effort: two creations of one name at once can make
 * two networks, after which the name is "ambiguous" for every later call. A mutex per name makes
 * the check and the creation one step.
 */
export function createNetworkEnsurer(docker: Docker, logger: Logger): NetworkEnsurer {
  const mutex = createKeyedMutex();
  return {
    ensure(name, { internal, labels }) {
      return mutex.run(name, async () => {
        try {
          await docker.getNetwork(name).inspect();
          return;
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
        logger.info({ network: name, internal }, 'creating network');
        try {
          await docker.createNetwork({
            Name: name,
            CheckDuplicate: true,
            Internal: internal,
            Labels: labels,
          });
        } catch (error) {
          if (!isConflict(error)) throw error;
        }
      });
    },
  };
}
