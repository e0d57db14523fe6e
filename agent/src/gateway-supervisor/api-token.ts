import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../state/atomic-write.js';

const FILE_NAME = 'gateway_api_token';

/**
 * The bearer token of the gateway's local API, made once and kept in the agent's data dir (0600):
 * a restarted agent presents the same token, so the running gateway is kept, not replaced.
 */
export async function loadOrCreateGatewayToken(dataDir: string): Promise<string> {
  const path = join(dataDir, FILE_NAME);
  try {
    const token = (await readFile(path, 'utf8')).trim();
    if (/^[0-9a-f]{64}$/.test(token)) return token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = randomBytes(32).toString('hex');
  await writeFileAtomic(path, token, 0o600);
  return token;
}
