import { configPushAnswerSchema, type RouteRefusal, TunnelfleetError } from '@tunnelfleet/common';
import { request } from 'undici';

/** The gateway refused or failed a push of the routing table. */
export class GatewayPushError extends TunnelfleetError {
  constructor(status: number, code: string, message: string) {
    super('gateway_push_failed', `the gateway refused the routing table (${status} ${code}): ${message}`, {
      httpStatus: 502,
      details: { status, code },
    });
  }
}

export interface GatewayClient {
  /** The version of the table the gateway serves; `null`: none yet; undefined: no answer. */
  readyVersion(): Promise<number | null | undefined>;
  /**
   * Pushes `table`; the gateway refuses one not above its version (`stale_config_version`). It
   * serves the routes it can and answers which it refused, and why.
   */
  putConfig(table: { version: number; routes: unknown[] }): Promise<RouteRefusal[]>;
  /** Long-poll for containers to start (and idle ones to stop) past `after`. */
  wakeRequests(after: number, waitMs: number): Promise<WakeRequests>;
  /** The container's last log lines, for the loading page; `failure`: its wake failed, why. */
  putLogs(container: string, lines: string[], failure?: string): Promise<void>;
  /** The agent stopped the container (a stop schedule): its routes sleep until a request wakes them. */
  putSleeping(container: string): Promise<void>;
  /** Its Prometheus text (`GET /metrics`). */
  metrics(): Promise<string>;
}

export interface WakeRequests {
  seq: number;
  start: { container: string; dependsOn: string[]; startTimeoutMs: number }[];
  stop: string[];
}

/** The agent's side of the gateway's local API at `origin` (its control address). */
export function createGatewayClient(options: {
  origin: string;
  token: string;
  timeoutMs: number;
}): GatewayClient {
  const timeouts = { headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs };
  return {
    async readyVersion() {
      try {
        const response = await request(`${options.origin}/readyz`, {
          ...timeouts,
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        const body = (await response.body.json()) as { version?: number | null };
        return typeof body.version === 'number' ? body.version : null;
      } catch {
        return undefined;
      }
    },
    async putConfig(table) {
      const response = await request(`${options.origin}/config`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(table),
        ...timeouts,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      const text = await response.body.text();
      if (response.statusCode === 200) {
        const answer = configPushAnswerSchema.safeParse(JSON.parse(text));
        if (!answer.success)
          throw new GatewayPushError(
            200,
            'invalid_answer',
            'the gateway answered the push with an unknown body',
          );
        return answer.data.refused;
      }
      let code = 'unknown';
      let message = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        code = parsed.error?.code ?? code;
        message = parsed.error?.message ?? message;
      } catch {
        // Not our API's error body: keep the text.
      }
      throw new GatewayPushError(response.statusCode, code, message);
    },
    async wakeRequests(after, waitMs) {
      const response = await request(`${options.origin}/wake-requests?after=${after}&wait_ms=${waitMs}`, {
        headers: { authorization: `Bearer ${options.token}` },
        headersTimeout: waitMs + options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
      if (response.statusCode !== 200) {
        await response.body.dump();
        throw new GatewayPushError(response.statusCode, 'wake_requests', 'the gateway refused the long-poll');
      }
      return (await response.body.json()) as WakeRequests;
    },
    async putLogs(container, lines, failure) {
      const response = await request(`${options.origin}/containers/${encodeURIComponent(container)}/logs`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ lines, failure }),
        ...timeouts,
      });
      await response.body.dump();
    },
    async metrics() {
      const response = await request(`${options.origin}/metrics`, {
        headers: { authorization: `Bearer ${options.token}` },
        ...timeouts,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      if (response.statusCode !== 200) {
        await response.body.dump();
        throw new GatewayPushError(response.statusCode, 'metrics', 'the gateway refused its metrics');
      }
      return response.body.text();
    },
    async putSleeping(container) {
      const response = await request(
        `${options.origin}/containers/${encodeURIComponent(container)}/sleeping`,
        { method: 'PUT', headers: { authorization: `Bearer ${options.token}` }, ...timeouts },
      );
      await response.body.dump();
    },
  };
}
