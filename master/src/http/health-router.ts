import { AuthenticationError } from '@tunnelfleet/common';
import { Router } from 'express';
import { hashSecret, secretMatchesHash } from '../keys/secret-hash.js';

/** One dependency check of `/readyz`; throws (or rejects) when the dependency is not usable. */
type ReadinessCheck = () => unknown;

export interface HealthRouterDeps {
  /** e.g. `{ sqlite, redis, cloudflare }`; each is reported by name. */
  checks: Record<string, ReadinessCheck>;
  registry: { readonly contentType: string; metrics(): Promise<string> };
  /** Upper bound of one check, so a hung dependency makes the master unready instead of hanging. */
  checkTimeoutMs?: number;
  /** `METRICS_TOKEN`: when set, `/metrics` requires it as a bearer token. */
  metricsToken?: string;
}

async function runCheck(
  check: ReadinessCheck,
  timeoutMs: number,
): Promise<{ ok: boolean; message?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(check),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** `/healthz` (the process answers), `/readyz` (every dependency usable), `/metrics` (Prometheus). */
export function healthRouter(deps: HealthRouterDeps): Router {
  const router = Router();
  const timeoutMs = deps.checkTimeoutMs ?? 5_000;

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const names = Object.keys(deps.checks);
    const results = await Promise.all(names.map((name) => runCheck(deps.checks[name]!, timeoutMs)));
    const checks = Object.fromEntries(names.map((name, i) => [name, results[i]!]));
    const ready = results.every((result) => result.ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unready', checks });
  });

  const metricsTokenHash = deps.metricsToken === undefined ? undefined : hashSecret(deps.metricsToken);
  router.get('/metrics', async (req, res) => {
    if (metricsTokenHash !== undefined) {
      const presented = /^Bearer (\S+)$/.exec(req.get('authorization') ?? '')?.[1];
      if (presented === undefined || !secretMatchesHash(presented, metricsTokenHash)) {
        throw new AuthenticationError('GET /metrics requires the METRICS_TOKEN bearer token');
      }
    }
    res.type(deps.registry.contentType).send(await deps.registry.metrics());
  });

  return router;
}
