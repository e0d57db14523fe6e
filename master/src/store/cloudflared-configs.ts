import { type CloudflaredTunnelOptions, cloudflaredTunnelOptionsSchema } from '@tunnelfleet/common';
import type { SqliteDatabase } from './database.js';
import { isoNow, parseJsonColumn, statement } from './statements.js';

/** What an operator chose for cloudflared: the fleet's, or one agent's override of it. */
export interface CloudflaredConfig {
  /** null: not chosen at this level. */
  image: string | null;
  settings: CloudflaredTunnelOptions;
  updatedAt: string;
}

interface ConfigRow {
  image: string | null;
  settings: string;
  updated_at: string;
}

function toConfig(row: ConfigRow): CloudflaredConfig {
  // Written through the schema only; a row that no longer parses counts as no choice at all.
  const parsed = cloudflaredTunnelOptionsSchema.safeParse(parseJsonColumn(row.settings, {}));
  return { image: row.image, settings: parsed.success ? parsed.data : {}, updatedAt: row.updated_at };
}

/** The fleet default (`agentId` null) or the agent's override; undefined when none was set. */
export function findCloudflaredConfig(
  db: SqliteDatabase,
  agentId: string | null,
): CloudflaredConfig | undefined {
  const row = (
    agentId === null
      ? statement(
          db,
          'SELECT image, settings, updated_at FROM cloudflared_configs WHERE agent_id IS NULL',
        ).get()
      : statement(db, 'SELECT image, settings, updated_at FROM cloudflared_configs WHERE agent_id = ?').get(
          agentId,
        )
  ) as ConfigRow | undefined;
  return row && toConfig(row);
}

/** Replaces the fleet default (`agentId` null) or the agent's override. */
export function saveCloudflaredConfig(
  db: SqliteDatabase,
  agentId: string | null,
  config: { image: string | null; settings: CloudflaredTunnelOptions },
): CloudflaredConfig {
  const at = isoNow();
  const settings = JSON.stringify(config.settings);
  db.transaction(() => {
    const update =
      agentId === null
        ? statement(
            db,
            'UPDATE cloudflared_configs SET image = ?, settings = ?, updated_at = ? WHERE agent_id IS NULL',
          ).run(config.image, settings, at)
        : statement(
            db,
            'UPDATE cloudflared_configs SET image = ?, settings = ?, updated_at = ? WHERE agent_id = ?',
          ).run(config.image, settings, at, agentId);
    if (update.changes === 0)
      statement(
        db,
        'INSERT INTO cloudflared_configs (agent_id, image, settings, updated_at) VALUES (?, ?, ?, ?)',
      ).run(agentId, config.image, settings, at);
  })();
  return { image: config.image, settings: config.settings, updatedAt: at };
}
