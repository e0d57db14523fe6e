import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@tunnelfleet/common';
import { writeFileAtomic } from './atomic-write.js';

const FILE_NAME = 'sleeping_containers.json';
/** Far more than one host runs; a longer list in the file is a damaged file. */
const MAX_NAMES = 10_000;

export interface SleepingContainers {
  /** The agent stops the container for its idle timeout: it sleeps until a request wakes it. */
  add(name: string): Promise<void>;
  /** The container was started (woken, or by hand): it no longer sleeps. */
  delete(name: string): Promise<void>;
  has(name: string): boolean;
}

/**
 * The containers this agent stopped for idleness, by name, kept in `sleeping_containers.json`
 * (0600, written atomically) so that a restarted agent still reports them `sleeping`, not
 * stopped: the master keeps their routes published.
 */
export async function loadSleepingContainers(dataDir: string, logger: Logger): Promise<SleepingContainers> {
  const path = join(dataDir, FILE_NAME);
  const names = new Set<string>();
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (Array.isArray(parsed))
      for (const name of parsed.slice(0, MAX_NAMES)) if (typeof name === 'string') names.add(name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      logger.warn({ err: error }, `${FILE_NAME} is unreadable; starting with no sleeping containers`);
  }
  let writes = Promise.resolve();
  // One write at a time, each of the whole set as it is then: the file never goes back.
  const save = () => {
    writes = writes
      .then(() => writeFileAtomic(path, JSON.stringify([...names].sort()), 0o600))
      .catch((error: unknown) => logger.error({ err: error }, `cannot write ${FILE_NAME}`));
    return writes;
  };
  return {
    async add(name) {
      if (names.has(name)) return;
      names.add(name);
      await save();
    },
    async delete(name) {
      if (!names.delete(name)) return;
      await save();
    },
    has: (name) => names.has(name),
  };
}
