import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Endpoint, latency in ms, wall-clock start of the request (ms since the epoch). */
export type LatencySample = [string, number, number];

export interface FleetAgentSpec {
  key: string;
  name: string;
  zone: string;
}

export interface FleetProcessStart {
  url: string;
  agents: FleetAgentSpec[];
  containers: number;
  meanEventIntervalMs: number;
  /** Between two of this process's agents starting. */
  spacingMs: number;
}

export type FleetProcessMessage =
  | { type: 'samples'; samples: LatencySample[]; errors: Array<[string, string]> }
  | { type: 'ready'; ready: number; registered: number }
  | { type: 'stopped'; lagP99Ms: number };

export interface SimulatedFleetOptions {
  url: string;
  agents: FleetAgentSpec[];
  containers: number;
  meanEventIntervalMs: number;
  /** The agents start evenly over this time, in their order. */
  rampMs: number;
  /** Child processes the agents are spread over. */
  processes: number;
  onSample(sample: LatencySample): void;
  onError(endpoint: string, message: string): void;
}

export interface SimulatedFleet {
  /** Settles once every agent registered and sent its first snapshot. */
  readonly ready: Promise<void>;
  registered(): number;
  /** Starts measuring the children's event-loop lag afresh. */
  resetLag(): void;
  /** The child processes' pids (their CPU is the load generator's share of the machine). */
  pids(): number[];
  /** Stops every agent; resolves with the worst child's event-loop lag p99 since `resetLag`. */
  stop(): Promise<number>;
}

/**
 * Simulated agents (`simulated-agent.ts`) spread over child processes, so that the load
 * generator's own limits (one event loop, one process's descriptors) do not show up as the
 * master's latency. Agent i runs in process i mod n; together they start in order over `rampMs`.
 */
export function startSimulatedFleet(options: SimulatedFleetOptions): SimulatedFleet {
  const script = fileURLToPath(new URL('./simulated-fleet-process.js', import.meta.url));
  const n = Math.max(1, Math.min(options.processes, options.agents.length));
  const spacingMs = options.agents.length > 0 ? options.rampMs / options.agents.length : 0;
  const registered = new Array<number>(n).fill(0);
  const lags = new Array<number>(n).fill(0);
  const children: ChildProcess[] = [];
  const readyWaits: Array<Promise<void>> = [];
  const exits: Array<Promise<void>> = [];
  for (let p = 0; p < n; p++) {
    const share = options.agents.filter((_, i) => i % n === p);
    const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    let resolveReady!: () => void;
    readyWaits.push(
      new Promise<void>((resolve) => {
        resolveReady = resolve;
      }),
    );
    if (share.length === 0) resolveReady();
    exits.push(
      new Promise<void>((resolve) => {
        child.once('exit', () => {
          resolveReady();
          resolve();
        });
      }),
    );
    child.on('message', (message: FleetProcessMessage) => {
      if (message.type === 'samples') {
        for (const sample of message.samples) options.onSample(sample);
        for (const [endpoint, error] of message.errors) options.onError(endpoint, error);
      } else if (message.type === 'ready') {
        registered[p] = message.registered;
        if (message.ready >= share.length) resolveReady();
      } else lags[p] = message.lagP99Ms;
    });
    // Process p's first agent is agent p of the fleet: it starts p spacings after the first.
    setTimeout(() => {
      child.send({
        url: options.url,
        agents: share,
        containers: options.containers,
        meanEventIntervalMs: options.meanEventIntervalMs,
        spacingMs: spacingMs * n,
      } satisfies FleetProcessStart);
    }, p * spacingMs);
  }
  return {
    ready: Promise.all(readyWaits).then(() => undefined),
    registered: () => registered.reduce((a, b) => a + b, 0),
    resetLag() {
      for (const child of children) if (child.connected) child.send({ type: 'reset-lag' });
    },
    pids: () => children.flatMap((child) => (child.pid === undefined ? [] : [child.pid])),
    async stop() {
      for (const child of children) if (child.connected) child.send({ type: 'stop' });
      await Promise.all(exits);
      return Math.max(...lags);
    },
  };
}
