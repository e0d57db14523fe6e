/**
 * A child process of `simulated-fleet.ts`: runs its share of the simulated agents and streams what
 * they measured to the parent over IPC. Not started by hand.
 */
import { Agent } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { type SimulatedAgent, startSimulatedAgent } from './simulated-agent.js';
import type { FleetProcessMessage, FleetProcessStart, LatencySample } from './simulated-fleet.js';

const FLUSH_EVERY_MS = 500;

const send = (message: FleetProcessMessage) => process.send?.(message);

async function run(start: FleetProcessStart): Promise<void> {
  let samples: LatencySample[] = [];
  let errors: Array<[string, string]> = [];
  const flush = () => {
    if (samples.length > 0 || errors.length > 0) send({ type: 'samples', samples, errors });
    samples = [];
    errors = [];
  };
  const flusher = setInterval(flush, FLUSH_EVERY_MS);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const agents: SimulatedAgent[] = [];
  // Idle connections close before the master's 35 s keep-alive would, so none is reused as it closes.
  const connections = new Agent({ keepAlive: true, scheduling: 'lifo', timeout: 30_000 });
  const latencies = {
    // Wall-clock start of the request, so the parent can tell which phase it belongs to.
    add: (name: string, ms: number) =>
      samples.push([name, ms, performance.timeOrigin + performance.now() - ms]),
  };
  const stopped = new Promise<void>((resolve) => {
    process.on('message', (message: { type: string }) => {
      if (message.type === 'reset-lag') lag.reset();
      if (message.type === 'stop') resolve();
    });
  });
  let stopping = false;
  void stopped.then(() => {
    stopping = true;
  });
  const readyCounts = { ready: 0, registered: 0 };
  for (const [i, agent] of start.agents.entries()) {
    if (stopping) break;
    const handle = startSimulatedAgent({
      url: start.url,
      key: agent.key,
      name: agent.name,
      zone: agent.zone,
      containers: start.containers,
      meanEventIntervalMs: start.meanEventIntervalMs,
      latencies,
      onError: (endpoint, message) => errors.push([endpoint, message]),
      connections,
    });
    agents.push(handle);
    void handle.ready.then(() => {
      readyCounts.ready++;
      if (handle.registered()) readyCounts.registered++;
      send({ type: 'ready', ...readyCounts });
    });
    // This process's agents are every n-th of the fleet: wait until the next one's turn.
    if (i < start.agents.length - 1) await delay(start.spacingMs);
  }
  await stopped;
  await Promise.all(agents.map((agent) => agent.stop()));
  connections.destroy();
  clearInterval(flusher);
  flush();
  lag.disable();
  send({ type: 'stopped', lagP99Ms: lag.percentile(99) / 1e6 });
}

process.once('message', (message: FleetProcessStart) => {
  run(message).then(
    () => process.disconnect(),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
