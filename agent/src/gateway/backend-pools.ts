import { Pool } from 'undici';

export interface BackendPoolOptions {
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export interface BackendPools {
  /** The keep-alive pool of `origin`, created on first use. */
  get(origin: string): Pool;
  /** Closes the pools of origins not in `keep`; their requests in flight finish first. */
  retain(keep: ReadonlySet<string>): void;
  close(): Promise<void>;
}

/** One undici `Pool` per backend origin: HTTP/1.1 connections kept alive and reused. */
export function createBackendPools(options: BackendPoolOptions): BackendPools {
  const pools = new Map<string, Pool>();
  return {
    get(origin) {
      let pool = pools.get(origin);
      if (!pool) {
        pool = new Pool(origin, {
          connect: { timeout: options.connectTimeoutMs },
          headersTimeout: options.headersTimeoutMs,
          bodyTimeout: options.bodyTimeoutMs,
          keepAliveTimeout: options.keepAliveTimeoutMs,
        });
        pools.set(origin, pool);
      }
      return pool;
    },
    retain(keep) {
      for (const [origin, pool] of pools) {
        if (keep.has(origin)) continue;
        pools.delete(origin);
        // `close` lets queued and running requests end; only new ones are refused.
        void pool.close().catch(() => {});
      }
    },
    async close() {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((pool) => pool.close().catch(() => {})));
    },
  };
}
