import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createKeyedMutex, type Logger } from '@tunnelfleet/common';
import { writeFileAtomic } from '../state/atomic-write.js';
import { StaleConfigVersionError, StoredTableUnreadableError } from './errors.js';
import { judgeTable } from './route-judge.js';
import { type CompiledTable, compileTable } from './routing-table.js';

const FILE_NAME = 'routing-table.json';
/** The table names every backend of the host: readable by the gateway's user only. */
const FILE_MODE = 0o600;

export interface TableStore {
  /** The table requests are routed by; undefined until one is pushed or read back. */
  current(): CompiledTable | undefined;
  /**
   * Judges the table route by route, persists it, then swaps; refuses a version not above the
   * current one. The compiled table says which routes were refused and why.
   */
  replace(input: unknown): Promise<CompiledTable>;
  /** Reads the last persisted table, if any, and serves it. */
  load(): Promise<void>;
}

/**
 * The routing table behind one reference. A request reads the reference once when it arrives and
 * keeps that table to its end, so a swap never changes a request in flight. The new table reaches
 * disk before it is served: after a crash the gateway serves at least what it last acknowledged.
 */
export function createTableStore(options: {
  dataDir: string;
  logger: Logger;
  /** Called after each swap by a push (the pools of backends no longer named are closed there). */
  onSwap?: (table: CompiledTable) => void;
}): TableStore {
  const path = join(options.dataDir, FILE_NAME);
  const logger = options.logger.child({ component: 'table-store' });
  let compiled: CompiledTable | undefined;
  // Two pushes at once must not both pass the version check against the same current table.
  const mutex = createKeyedMutex();

  return {
    current: () => compiled,
    replace(input) {
      const judged = judgeTable(input);
      return mutex.run('table', async () => {
        const version = compiled?.table.version ?? 0;
        const offered = judged.table.version;
        if (offered <= version) throw new StaleConfigVersionError(offered, version);
        const next = compileTable(judged);
        // As pushed: read back, it is judged again, so its refused routes still answer 503.
        await writeFileAtomic(path, JSON.stringify(input), FILE_MODE);
        compiled = next;
        options.onSwap?.(next);
        logger.info(
          { version: offered, routes: next.table.routes.length, refused: next.refused.slice(0, 20) },
          'routing table swapped',
        );
        return next;
      });
    },
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw new StoredTableUnreadableError(path, error);
      }
      try {
        compiled = compileTable(judgeTable(JSON.parse(text)));
      } catch (error) {
        throw new StoredTableUnreadableError(path, error);
      }
      const { table, refused } = compiled;
      logger.info(
        { version: table.version, routes: table.routes.length, refused: refused.slice(0, 20) },
        'stored routing table served',
      );
    },
  };
}
