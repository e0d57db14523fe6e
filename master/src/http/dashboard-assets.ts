import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { NotFoundError } from '@tunnelfleet/common';
import express, { type RequestHandler, Router } from 'express';

/**
 * Where the dashboard's built assets are: `DASHBOARD_DIR`, else the `dist/` of the
 * `@tunnelfleet/dashboard` package installed beside the master (the workspace, or the image's
 * node_modules). Undefined when no `index.html` is there: the dashboard was not built.
 */
export function findDashboardDir(configured: string | undefined): string | undefined {
  let dir = configured;
  if (dir === undefined) {
    try {
      dir = join(
        dirname(createRequire(import.meta.url).resolve('@tunnelfleet/dashboard/package.json')),
        'dist',
      );
    } catch {
      return undefined;
    }
  }
  return existsSync(join(dir, 'index.html')) ? dir : undefined;
}

/** Paths the dashboard's fallback never answers: they belong to the API and operations. */
const API_PATH = /^\/(api|healthz|readyz|metrics|openapi)(\/|\.|$)/;

/**
 * Serves the single-page app under `/`, mounted after every API router so it never shadows one:
 * built files as they are (`assets/` names carry a content hash, so they are cached for good),
 * and `index.html` for any other GET that is not an API path (the app's own routes, e.g.
 * `/agents/ag_1`). A missing asset is a 404, not the page. Without a build, `/` says so.
 */
export function dashboardAssets(dir: string | undefined): Router {
  const router = Router();
  if (dir === undefined) {
    router.get('/', () => {
      throw new NotFoundError('the dashboard is not built into this master (pnpm build builds it)');
    });
    return router;
  }
  router.use(
    '/assets',
    express.static(join(dir, 'assets'), { index: false, immutable: true, maxAge: '365d' }),
  );
  router.use('/assets', (req) => {
    throw new NotFoundError(`no such dashboard asset: ${req.path}`);
  });
  router.use(express.static(dir, { index: false, maxAge: 0 }));
  const page: RequestHandler = (req, res, next) => {
    if (API_PATH.test(req.path)) return next();
    res.set('cache-control', 'no-cache');
    res.sendFile(join(dir, 'index.html'));
  };
  router.get(/.*/, page);
  return router;
}
