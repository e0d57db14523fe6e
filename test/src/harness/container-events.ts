import type Docker from 'dockerode';
import { HarnessError } from './harness-error.js';

/** When the container died (its `die` event, the engine's clock), in ms since the epoch. */
export async function containerDiedAt(docker: Docker, containerId: string, sinceMs: number): Promise<number> {
  const stream = await docker.getEvents({
    since: Math.floor(sinceMs / 1000),
    until: Math.ceil(Date.now() / 1000),
    filters: { container: [containerId], event: ['die'] },
  });
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  const events = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { timeNano: number });
  if (events.length !== 1)
    throw new HarnessError(`expected one die event of ${containerId}, got ${events.length}`);
  return events[0]!.timeNano / 1e6;
}
