import { randomBytes } from 'node:crypto';
import { type Agent, globalAgent, request as httpRequest } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AGENT_ROUTES,
  COMMAND_POLL_DEFAULT_WAIT_SECONDS,
  COMMAND_POLL_WAIT_HEADER,
  type Command,
  type Container,
  commandAckPath,
  createKeyedMutex,
  type HeartbeatRequest,
  type RegisterRequest,
  type Report,
  snapshotFingerprint,
} from '@tunnelfleet/common';
import type { LatencyLog } from './latency-stats.js';

/** Names a failure by its code (ECONNRESET, ECONNREFUSED, …) where it has one. */
function describe(error: unknown): string {
  const { code, message } = error as { code?: string; message: string };
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
  /** The master's advice on long-polls (`COMMAND_POLL_WAIT_HEADER`). */
  pollWait: string | undefined;
  text: string;
}

/**
 * One request over node:http's keep-alive agent. Not `fetch`: at 10,000 simulated agents on the
 * master's machine, the load generator's own CPU is part of what the master waits for, and
 * undici's fetch costs several times what a plain request does.
 */
function send(
  connections: Agent,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = { agent: connections, method: init.method, headers: init.headers, signal: init.signal };
    const req = httpRequest(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        const pollWait = res.headers[COMMAND_POLL_WAIT_HEADER] as string | undefined;
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, retryAfter, pollWait, text });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/**
 * A `503` with `Retry-After`: the master's admission control asks to come back later. Not a
 * failure: the agent waits that long and tries again, however often (as the real agent does);
 * its latency is logged apart, as `<endpoint> 503`.
 */
class MasterBusy extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`503 master busy, retry after ${retryAfterMs} ms`);
  }
}

/** The real agent's default: a full snapshot every 10 heartbeats. */
const SNAPSHOT_EVERY_HEARTBEATS = 10;
/** The real agent's retry pacing (`agent/src/master-client/retry-delay.ts`): from 1 s, doubling, capped. */
const RETRY_INITIAL_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/** Equal jitter like the real agent's, so agents that failed together do not come back together. */
function retryPause(attempt: number): number {
  const base = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}
/** A request the master has not answered by then counts as an error (the real agent's timeout). */
const REQUEST_TIMEOUT_MS = 30_000;

interface SimulatedAgentOptions {
  url: string;
  key: string;
  /** Unique per agent: names the agent and its hostnames. */
  name: string;
  zone: string;
  containers: number;
  /** Mean time between two container restarts on this host (each one event report); 0 = none. */
  meanEventIntervalMs: number;
  latencies: Pick<LatencyLog, 'add'>;
  onError(endpoint: string, message: string): void;
  /**
   * Keep-alive connections shared by the agents of one load-generator process, as undici's pool
   * did for `fetch`: one connection per host for its heartbeats besides its long-poll would be
   * 20,000 descriptors at the master, the limit of this machine. node:http's global agent if not given.
   */
  connections?: Agent;
}

export interface SimulatedAgent {
  /** Settles once registered and the first snapshot is sent (registration is retried until stopped). */
  readonly ready: Promise<void>;
  registered(): boolean;
  /** The master's id of this agent ('' until registered). */
  id(): string;
  /** A new labelled container starts (one event report); resolves to its hostname once reported. */
  addContainer(): Promise<string>;
  stop(): Promise<void>;
}

/** A labelled container of a simulated host, with a route in `zone`. */
export function benchContainer(agent: string, index: number, zone: string): Container {
  const name = `svc-${index}`;
  return {
    id: randomBytes(32).toString('hex'),
    name: `${agent}-${name}`,
    image: 'ghcr.io/example/web:1.4.2',
    labels: {
      'com.docker.compose.project': agent,
      'com.docker.compose.service': name,
      'com.docker.compose.version': '2.29.1',
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': `${name}-${agent}.${zone}`,
      'tunnelfleet.service': `http://${name}:8080`,
    },
    state: 'running',
    networks: { [`${agent}_default`]: { ipAddress: `172.18.0.${index + 2}`, aliases: [name] } },
    exposedPorts: [{ port: 8080, protocol: 'tcp' }],
  };
}

/**
 * One agent speaking the real HTTP protocol, without Docker: register, a snapshot of its
 * labelled containers with their fingerprint, heartbeats on the interval the master names (a
 * snapshot every 10th), container restarts reported as events, and a command long-poll held open.
 * Latency of every request except the long-poll is logged under its endpoint name.
 */
export function startSimulatedAgent(options: SimulatedAgentOptions): SimulatedAgent {
  const stopping = new AbortController();
  const { signal } = stopping;
  const connections = options.connections ?? globalAgent;
  const containers = Array.from({ length: options.containers }, (_, i) =>
    benchContainer(options.name, i, options.zone),
  );
  let agentId = '';
  let sequence = 0;
  const reports = createKeyedMutex();
  const startedAt = Date.now();

  async function call<T>(endpoint: string, method: string, path: string, body?: unknown): Promise<T> {
    const started = performance.now();
    // Held in this frame until the reply is read: AbortSignal.any keeps its sources only weakly,
    // and a collected timeout signal never fires.
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const answer = await send(connections, `${options.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.any([signal, timeout]),
    }).catch((error: unknown) => {
      timeout.throwIfAborted();
      throw error;
    });
    const busy = answer.status === 503 && answer.retryAfter !== undefined;
    options.latencies.add(busy ? `${endpoint} 503` : endpoint, performance.now() - started);
    if (busy) throw new MasterBusy(Number(answer.retryAfter) * 1000);
    if (answer.status < 200 || answer.status > 299)
      throw new Error(`${answer.status} ${answer.text.slice(0, 200)}`);
    return JSON.parse(answer.text) as T;
  }

  /** Reports go one at a time, as the real reporter sends them: sequences arrive in order. */
  function report(build: () => Report): Promise<void> {
    return reports.run('reports', async () => {
      while (!signal.aborted) {
        try {
          await call('reports', 'POST', AGENT_ROUTES.reports, build());
          return;
        } catch (error) {
          if (signal.aborted) return;
          // A new host's first snapshot may wait for admission like its registration.
          if (error instanceof MasterBusy) {
            await delay(error.retryAfterMs, undefined, { signal }).catch(() => undefined);
            continue;
          }
          options.onError('reports', describe(error));
          return;
        }
      }
    });
  }

  const snapshot = () =>
    report(() => ({
      agentId,
      sequence: ++sequence,
      observedAt: new Date().toISOString(),
      kind: 'snapshot',
      fingerprint: snapshotFingerprint(containers),
      containers,
    }));

  async function heartbeats(intervalSeconds: number): Promise<void> {
    // Agents of a fleet start at different moments: spread the first beat over one interval.
    await delay(Math.random() * intervalSeconds * 1000, undefined, { signal });
    for (let beat = 1; !signal.aborted; beat++) {
      const body: HeartbeatRequest = {
        agentId,
        uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
        cloudflared: { state: 'missing', ready: false, tunnelId: null, containerId: null },
        lastAppliedCommandVersion: null,
        dockerReachable: true,
      };
      try {
        const reply = await call<{ snapshotRequested: boolean }>(
          'heartbeat',
          'POST',
          AGENT_ROUTES.heartbeat,
          body,
        );
        if (reply.snapshotRequested || beat % SNAPSHOT_EVERY_HEARTBEATS === 0) void snapshot();
      } catch (error) {
        if (!signal.aborted) options.onError('heartbeat', describe(error));
      }
      await delay(intervalSeconds * 1000, undefined, { signal });
    }
  }

  /** A container stops and starts again: two event reports. */
  async function restarts(): Promise<void> {
    if (options.meanEventIntervalMs <= 0 || containers.length === 0) return;
    while (!signal.aborted) {
      await delay(-Math.log(1 - Math.random()) * options.meanEventIntervalMs, undefined, { signal });
      const index = Math.floor(Math.random() * containers.length);
      for (const state of ['exited', 'running'] as const) {
        containers[index] = { ...containers[index]!, state };
        void report(() => ({
          agentId,
          sequence: ++sequence,
          observedAt: new Date().toISOString(),
          kind: 'event',
          change: { action: 'upsert', container: containers[index]! },
        }));
      }
    }
  }

  async function commandPolls(): Promise<void> {
    // As the real agent: the wait the master's last answer advised.
    let waitSeconds = String(COMMAND_POLL_DEFAULT_WAIT_SECONDS);
    while (!signal.aborted) {
      try {
        const path = `${AGENT_ROUTES.commandsNext}?waitSeconds=${waitSeconds}`;
        const answer = await send(connections, `${options.url}${path}`, {
          method: 'GET',
          headers: { authorization: `Bearer ${options.key}` },
          signal,
        });
        waitSeconds = answer.pollWait ?? waitSeconds;
        const { command } = JSON.parse(answer.text) as { command: Command | null };
        if (command) {
          await call('commands/ack', 'POST', commandAckPath(command.id), {
            commandId: command.id,
            version: command.version,
            status: 'ok',
          });
        }
      } catch (error) {
        if (signal.aborted) return;
        options.onError('commands/next', describe(error));
        await delay(1000, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  const ignoreAbort = (error: unknown) => {
    if (!signal.aborted) options.onError('agent', describe(error));
  };
  let loops: Promise<unknown> = Promise.resolve();
  const ready = (async () => {
    const registration: RegisterRequest = {
      name: options.name,
      agentVersion: 'bench',
      hostname: `${options.name}.hosts.internal`,
      docker: { serverVersion: '27.3.1', apiVersion: '1.47', os: 'linux', arch: 'x86_64' },
    };
    let registered: { agentId: string; reportIntervalSeconds: number } | undefined;
    // Like the real agent: a failed registration is retried forever, after a jittered pause that
    // doubles up to a minute, and a busy master's answer after its Retry-After. A run against a
    // master that never answers ends at the bench's registration deadline, not here.
    for (let attempt = 0; registered === undefined; attempt++) {
      try {
        registered = await call('register', 'POST', AGENT_ROUTES.register, registration);
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof MasterBusy) {
          await delay(error.retryAfterMs, undefined, { signal });
          continue;
        }
        options.onError('register', describe(error));
        await delay(retryPause(attempt), undefined, { signal });
      }
    }
    agentId = registered.agentId;
    loops = Promise.all([
      heartbeats(registered.reportIntervalSeconds).catch(ignoreAbort),
      restarts().catch(ignoreAbort),
      commandPolls(),
    ]);
    await snapshot();
  })();

  return {
    ready: ready.catch(ignoreAbort),
    registered: () => agentId !== '',
    id: () => agentId,
    async addContainer() {
      const added = benchContainer(options.name, containers.length, options.zone);
      containers.push(added);
      await report(() => ({
        agentId,
        sequence: ++sequence,
        observedAt: new Date().toISOString(),
        kind: 'event',
        change: { action: 'upsert', container: added },
      }));
      return added.labels['tunnelfleet.hostname']!;
    },
    async stop() {
      stopping.abort();
      await ready.catch(() => undefined);
      await loops;
      await reports.idle('reports');
    },
  };
}
