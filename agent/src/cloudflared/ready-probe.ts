/**
 * What cloudflared's metrics server tells about it: readiness and its connector id (`/ready`),
 * its release (`build_info` in `/metrics`) and the configuration version it serves (`/config`).
 * The agent reaches it on the metrics network only.
 */
export interface CloudflaredReadiness {
  /** `/ready` answered 200: it holds at least one edge connection. Any failure counts as not ready. */
  ready: boolean;
  connectorId?: string;
  /** Version of the remotely managed configuration; absent until it has received one (-1). */
  configVersion?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function baseUrl(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

async function getJson(url: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body: unknown = await response.json().catch(() => undefined);
  return { status: response.status, body };
}

function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}

/** `/ready` (503 with the same JSON while not connected), then `/config` for its version. */
export async function probeReady(
  address: string,
  port: number,
  timeoutMs: number,
): Promise<CloudflaredReadiness> {
  const base = baseUrl(address, port);
  let readiness: CloudflaredReadiness;
  try {
    const { status, body } = await getJson(`${base}/ready`, timeoutMs);
    const connectorId = field(body, 'connectorId');
    readiness = {
      ready: status === 200,
      ...(typeof connectorId === 'string' && UUID.test(connectorId) ? { connectorId } : {}),
    };
  } catch {
    return { ready: false };
  }
  try {
    // Older releases and the test stand-in have no /config: then the version stays unknown.
    const version = field((await getJson(`${base}/config`, timeoutMs)).body, 'version');
    if (Number.isSafeInteger(version) && (version as number) >= 0)
      readiness.configVersion = version as number;
  } catch {
    // Not knowing the configuration version does not make it less ready.
  }
  return readiness;
}

/** cloudflared's release from `build_info{…,version="2023.7.3"} 1`; undefined if not found. */
export async function probeVersion(
  address: string,
  port: number,
  timeoutMs: number,
): Promise<string | undefined> {
  try {
    const response = await fetch(`${baseUrl(address, port)}/metrics`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    const match = /^build_info\{[^}]*\bversion="([^"]{1,64})"[^}]*\}/m.exec(await response.text());
    return match?.[1];
  } catch {
    return undefined;
  }
}
