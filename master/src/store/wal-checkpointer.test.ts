import { rmSync, statSync } from 'node:fs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { useTempStore } from '../../test/temp-store.js';
import type { SqliteDatabase } from './database.js';
import { setSetting } from './settings.js';
import { type CheckpointResult, startWalCheckpointer, type WalCheckpointer } from './wal-checkpointer.js';

const database = useTempStore();
const silent = pino({ level: 'silent' });

/** Once the worker has run: from then on the master's connection no longer checkpoints. */
function firstCheckpoint(checkpointer: WalCheckpointer): Promise<CheckpointResult> {
  return new Promise((resolve) => {
    const off = checkpointer.onCheckpoint((result) => {
      off();
      resolve(result);
    });
  });
}

/** 400 commits of about 4 KB each: some 800 pages, one commit at a time as the master writes. */
function writeCommits(db: SqliteDatabase): void {
  for (let i = 0; i < 400; i++) setSetting(db, `bulk.${i}`, 'x'.repeat(4000));
}

describe('WAL checkpointer', () => {
  it("copies the WAL into the database file from its own thread; the master's commits never checkpoint", async () => {
    const db = database();
    const checkpointer = startWalCheckpointer(db, { logger: silent, intervalMs: 20 });
    await firstCheckpoint(checkpointer);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);

    writeCommits(db);
    // Every page, the new rows' included, is in the database file itself, not only in its WAL.
    const pages =
      (db.pragma('page_count', { simple: true }) as number) *
      (db.pragma('page_size', { simple: true }) as number);
    await expect.poll(() => statSync(db.name).size).toBe(pages);
    await checkpointer.stop();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });

  it("without it, the same commits leave the rows in the WAL (what the worker's copy is measured against)", () => {
    const db = database();
    db.pragma('wal_autocheckpoint = 0');
    const fileBefore = statSync(db.name).size;
    writeCommits(db);
    expect(statSync(db.name).size).toBe(fileBefore);
    expect(statSync(`${db.name}-wal`).size).toBeGreaterThan(400 * 4000);
  });

  it('fails safe: a checkpointer that cannot start leaves checkpoints on commit, and says so', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const db = database();
    // The worker opens the file by its name: gone, it cannot (the master's connection still can).
    rmSync(db.name);
    const checkpointer = startWalCheckpointer(db, { logger });
    await expect.poll(() => lines.join('')).toContain('the database checkpoints on commit again');
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    await checkpointer.stop();
  });
});
