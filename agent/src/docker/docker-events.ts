import type { Logger } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { z } from 'zod';
import { type BackoffOptions, createBackoff } from './backoff.js';

/** The part of a Docker event we rely on; everything else is ignored. */
const dockerEventSchema = z.object({
  Type: z.string(),
  Action: z.string(),
  Actor: z.object({
    ID: z.string(),
    Attributes: z.record(z.string(), z.string()).optional(),
  }),
});
export type DockerEvent = z.infer<typeof dockerEventSchema>;

/** A line this long without a newline is not an event: drop it rather than grow without bound. */
const MAX_PENDING_CHARS = 1024 * 1024;

/** One line of the event stream: an event, a problem to log, or nothing (blank keep-alive line). */
export function parseDockerEventLine(line: string): { event: DockerEvent } | { problem: string } | undefined {
  if (line.trim() === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { problem: `not JSON (${line.length} characters)` };
  }
  const parsed = dockerEventSchema.safeParse(json);
  if (!parsed.success) {
    return {
      problem: parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; '),
    };
  }
  return { event: parsed.data };
}

export const DEFAULT_RECONNECT: BackoffOptions = { initialDelayMs: 250, maxDelayMs: 10_000 };

interface DockerEventSubscriptionOptions {
  docker: Docker;
  logger: Logger;
  filters: Record<string, string[]>;
  onEvent: (event: DockerEvent) => void;
  /**
   * Called each time the stream is (re)established, before any event of that stream is delivered.
   * Events are not replayed across a reconnect, so this is where callers relist.
   */
  onConnected: (attempt: { first: boolean }) => void;
  onDisconnected?: (error: Error | undefined) => void;
  reconnect?: BackoffOptions;
}

interface DockerEventSubscription {
  readonly connected: boolean;
  stop(): void;
}

/**
 * Keeps a Docker event stream open for as long as it is not stopped: dockerode does not reconnect
 * by itself, and the stream ends whenever the daemon restarts.
 */
export function subscribeDockerEvents(options: DockerEventSubscriptionOptions): DockerEventSubscription {
  const { docker, logger, filters, onEvent, onConnected, onDisconnected } = options;
  const backoff = createBackoff(options.reconnect ?? DEFAULT_RECONNECT);
  let stopped = false;
  let connected = false;
  let everConnected = false;
  let stream: NodeJS.ReadableStream | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  const scheduleReconnect = () => {
    if (stopped) return;
    const delay = backoff.next();
    logger.debug({ delayMs: delay, attempt: backoff.attempts }, 'docker event stream: reconnecting');
    retryTimer = setTimeout(() => void connect(), delay);
  };

  const handleLine = (line: string) => {
    const parsed = parseDockerEventLine(line);
    if (parsed === undefined) return;
    if ('problem' in parsed) {
      logger.warn({ problem: parsed.problem }, 'docker event stream: ignoring a malformed event');
      return;
    }
    try {
      onEvent(parsed.event);
    } catch (error) {
      logger.error({ err: error }, 'docker event handler failed');
    }
  };

  const connect = async () => {
    retryTimer = undefined;
    if (stopped) return;
    let current: NodeJS.ReadableStream;
    try {
      current = await docker.getEvents({ filters });
    } catch (error) {
      logger.warn({ err: error }, 'docker event stream: cannot connect');
      scheduleReconnect();
      return;
    }
    if (stopped) {
      destroy(current);
      return;
    }
    stream = current;
    connected = true;
    backoff.reset();
    const first = !everConnected;
    everConnected = true;
    try {
      onConnected({ first });
    } catch (error) {
      logger.error({ err: error }, 'docker event stream: onConnected handler failed');
    }

    let pending = '';
    let closed = false;
    const finish = (error: Error | undefined) => {
      if (closed) return;
      closed = true;
      connected = false;
      stream = undefined;
      if (stopped) return;
      logger.warn({ err: error }, 'docker event stream ended');
      onDisconnected?.(error);
      scheduleReconnect();
    };
    current.setEncoding('utf8');
    current.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        handleLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
      if (pending.length > MAX_PENDING_CHARS) {
        logger.warn({ length: pending.length }, 'docker event stream: dropping an oversized line');
        pending = '';
      }
    });
    current.on('end', () => finish(undefined));
    current.on('close', () => finish(undefined));
    current.on('error', (error: Error) => finish(error));
  };

  void connect();

  return {
    get connected() {
      return connected;
    },
    stop() {
      stopped = true;
      connected = false;
      if (retryTimer) clearTimeout(retryTimer);
      if (stream) destroy(stream);
      stream = undefined;
    },
  };
}

function destroy(stream: NodeJS.ReadableStream) {
  (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
}
