import type Docker from 'dockerode';

/** Label that marks the containers of one benchmark run, so its event stream sees only them. */
export const RUN_LABEL = 'org.tunnelfleet-bench.run';

/** Engine time (ms) of each `start` event of the run's containers, keyed by container id. */
export async function watchStartEvents(docker: Docker, run: string) {
  const startedAt = new Map<string, number>();
  const stream = (await docker.getEvents({
    filters: { type: ['container'], event: ['start'], label: [`${RUN_LABEL}=${run}`] },
  })) as NodeJS.ReadableStream & { destroy(): void };
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const event = JSON.parse(buffered.slice(0, newline)) as { id: string; timeNano: number };
      buffered = buffered.slice(newline + 1);
      startedAt.set(event.id, event.timeNano / 1e6);
    }
  });
  return { startedAt, close: () => stream.destroy() };
}
