import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createKeyedMutex,
  type Logger,
  parseOrThrow,
  type RoutingTable,
  routingTableSchema,
} from '@tunnelfleet/common';
import { writeFileAtomic } from '../state/atomic-write.js';
import { StaleConfigVersionError, StoredTableUnreadableError } from './errors.js';
import { type CompiledTable, compileTable } from './routing-table.js';

const FILE_NAME = 'routing-table.json';
/** The table names every backend of the host: readable by the gateway's user only. */
const FILE_MODE = 0o600;

export interface TableStore {
  /** The table requests are routed by; undefined until one is pushed or read back. */
  current(): CompiledTable | undefined;
  /** Validates, persists, then swaps; refuses a version not above the current one. */
  replace(input: unknown): Promise<RoutingTable>;
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
      const table = parseOrThrow(routingTableSchema, input, 'routing table');
      return mutex.run('table', async () => {
        const version = compiled?.table.version ?? 0;
        if (table.version <= version) throw new StaleConfigVersionError(table.version, version);
        const next = compileTable(table);
        await writeFileAtomic(path, JSON.stringify(table), FILE_MODE);
        compiled = next;
        options.onSwap?.(next);
        logger.info({ version: table.version, routes: table.routes.length }, 'routing table swapped');
        return table;
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
      let table: RoutingTable;
      try {
        table = routingTableSchema.parse(JSON.parse(text));
      } catch (error) {
        throw new StoredTableUnreadableError(path, error);
      }
      compiled = compileTable(table);
      logger.info({ version: table.version, routes: table.routes.length }, 'stored routing table served');
    },
  };
}
