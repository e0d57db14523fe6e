import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** How a path answers: `ok` (204), `fail` (503), or `hang` (reads the request, never answers). */
export type ReceiverBehaviour = 'ok' | 'fail' | 'hang';

/**
 * A real HTTP receiver on loopback for alert webhooks. Each path keeps what it received; its
 * behaviour may be a fixed one or a script consumed request by request (then `ok`).
 */
export async function startWebhookReceiver() {
  const received: ReceivedWebhook[] = [];
  const scripts = new Map<string, ReceiverBehaviour[]>();
  const fixed = new Map<string, ReceiverBehaviour>();
  const hanging = new Set<ServerResponse>();
  const listeners = new Set<() => void>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const behaviour = scripts.get(path)?.shift() ?? fixed.get(path) ?? 'ok';
      for (const listener of listeners) listener();
      if (behaviour === 'hang') {
        hanging.add(res);
        return;
      }
      res.statusCode = behaviour === 'ok' ? 204 : 503;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    received: (path: string) => received.filter((hook) => hook.path === path),
    /** Answers the next requests to `path` in this order, then `ok`. */
    script(path: string, behaviours: ReceiverBehaviour[]) {
      scripts.set(path, [...behaviours]);
    },
    behave(path: string, behaviour: ReceiverBehaviour) {
      fixed.set(path, behaviour);
    },
    /** Resolves once `path` has received `count` requests (no polling: on each arrival). */
    waitForCount(path: string, count: number): Promise<ReceivedWebhook[]> {
      return new Promise((resolve) => {
        const check = () => {
          const hooks = received.filter((hook) => hook.path === path);
          if (hooks.length < count) return;
          listeners.delete(check);
          resolve(hooks);
        };
        listeners.add(check);
        check();
      });
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
