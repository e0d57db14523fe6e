/**
 * cloudflared's metrics server answers `GET /ready` with 200 once it holds an edge connection.
 * Any failure (refused, timeout, non-200) counts as not ready.
 */
export async function probeReady(address: string, port: number, timeoutMs: number): Promise<boolean> {
  const host = address.includes(':') ? `[${address}]` : address;
  try {
    const response = await fetch(`http://${host}:${port}/ready`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}
