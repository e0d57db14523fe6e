import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { SqliteDatabase } from './database.js';

/** SQLite's own default: a commit checkpoints once the WAL holds this many pages. */
const AUTOCHECKPOINT_PAGES = 1000;

/** How often the worker copies the WAL into the database file. */
const DEFAULT_INTERVAL_MS = 1_000;

/** `PRAGMA wal_checkpoint(PASSIVE)`'s answer: pages in the WAL, and how many of them are copied. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

/**
 * The worker's code, run with `eval` so that it is the same from `src` under vitest as from
 * `dist`. It opens its own connection to the file and checkpoints it on a timer. PASSIVE never
 * waits for a lock and never blocks the master's writers or readers.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
const checkpoint = () => parentPort.postMessage(db.pragma('wal_checkpoint(PASSIVE)')[0]);
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface WalCheckpointer {
  /** Each checkpoint's result as it comes; tests await one. */
  onCheckpoint(listener: (result: CheckpointResult) => void): () => void;
  /** Stops the worker; the master's connection checkpoints on commit again. */
  stop(): Promise<void>;
}

/**
 * Moves the WAL checkpoints of the master's database off its event loop. SQLite checkpoints on
 * the commit that finds the WAL past 1,000 pages: that commit copies the pages into the database
 * file and syncs it, on the main thread, while every request waits (up to 23 ms a commit on a
 * 10,000-host store, and two thirds of the time spent writing; see `bench/RESULTS.md`). Here the
 * master's connection never checkpoints and a worker thread does, once a second.
 *
 * Fails safe: if the worker cannot start or dies, the master's connection checkpoints on commit
 * again (SQLite's default), so the WAL never grows without bound.
 */
export function startWalCheckpointer(
  db: SqliteDatabase,
  options: { logger: Logger; intervalMs?: number },
): WalCheckpointer {
  const { logger } = options;
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      file: db.name,
      intervalMs: options.intervalMs ?? DEFAULT_INTERVAL_MS,
    },
  });
  // Not `events.once`: it rejects on the worker's 'error', which is handled below.
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const listeners = new Set<(result: CheckpointResult) => void>();
  let stopping = false;
  worker.on('message', (result: CheckpointResult) => {
    for (const listener of listeners) listener(result);
  });
  worker.on('error', (error) => logger.warn({ err: error }, 'the WAL checkpointer failed'));
  worker.on('exit', () => {
    if (!db.open) return;
    db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    if (!stopping) logger.warn('the WAL checkpointer stopped: the database checkpoints on commit again');
  });
  // The master's close stops it; until then it must not be what keeps a process alive.
  worker.unref();
  // Only once the worker runs: a worker that never starts leaves SQLite's default in place.
  worker.once('online', () => {
    if (!stopping && db.open) db.pragma('wal_autocheckpoint = 0');
  });

  return {
    onCheckpoint(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      // A worker that already exited ignores the message.
      worker.postMessage('stop');
      await exited;
    },
  };
}
