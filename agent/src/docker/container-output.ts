import type Docker from 'dockerode';

/**
 * The last lines a container printed (stdout and stderr), to say why it exited. Docker frames the
 * output of a container without a TTY as `[stream, 0, 0, 0, size (4 bytes BE)]` + payload.
 */
export function lastOutputLines(docker: Docker, containerId: string, lines: number): Promise<string[]> {
  return outputLines(docker, containerId, { tail: lines });
}

/**
 * What a container printed in its first `seconds` after `startedAt` (its inspect `State.StartedAt`):
 * the start of one run's output, however much it printed after, without reading all of it.
 */
export function earlyOutputLines(
  docker: Docker,
  containerId: string,
  startedAt: string,
  seconds: number,
): Promise<string[]> {
  const since = Math.floor(Date.parse(startedAt) / 1000);
  return outputLines(docker, containerId, { since, until: since + seconds });
}

async function outputLines(
  docker: Docker,
  containerId: string,
  window: { tail?: number; since?: number; until?: number },
): Promise<string[]> {
  const raw = (await docker.getContainer(containerId).logs({
    stdout: true,
    stderr: true,
    follow: false,
    ...window,
  })) as unknown as Buffer;
  return demultiplex(raw)
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '');
}

export function demultiplex(raw: Buffer): string {
  const chunks: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const stream = raw[offset];
    const size = raw.readUInt32BE(offset + 4);
    if ((stream !== 0 && stream !== 1 && stream !== 2) || offset + 8 + size > raw.length) break;
    chunks.push(raw.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  // Not framed (a TTY container): the bytes are the text.
  return offset === raw.length ? Buffer.concat(chunks).toString('utf8') : raw.toString('utf8');
}
