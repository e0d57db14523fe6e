/**
 * A master that only reconciles, for the crash-safety test: it opens the SQLite file, Redis and
 * the Cloudflare API named in its environment, runs the start-up full reconcile, prints a summary
 * line and exits. The test kills it with SIGKILL at chosen points and runs another.
 */
import { pino } from 'pino';
import { createCloudflareLayer } from '#master/cloudflare/cloudflare-layer.js';
import { createReconciler } from '#master/reconciler/reconciler.js';
import { openDatabase } from '#master/store/database.js';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const logger = pino({ level: 'silent' });
const db = openDatabase(env('CRASH_DATA_DIR'));
const cloudflare = createCloudflareLayer(
  {
    tokens: [],
    defaultToken: env('CRASH_CF_TOKEN'),
    accountId: env('CRASH_CF_ACCOUNT'),
    baseURL: env('CRASH_CF_URL'),
    retry: { attempts: 10, baseDelayMs: 5, maxDelayMs: 100 },
    // Small batches, so a burst takes several writes and a kill can land between them.
    dns: { batchLimit: 20 },
  },
  logger,
);
const reconciler = await createReconciler({
  db,
  redisConnection: env('CRASH_REDIS_URL'),
  cloudflare,
  logger,
  cron: null,
});
const summary = await reconciler.start();
process.stdout.write(`${JSON.stringify(summary)}\n`);
await reconciler.close();
db.close();
