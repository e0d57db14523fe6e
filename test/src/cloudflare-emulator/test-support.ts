import { type CloudflareEmulatorOptions, startCloudflareEmulator } from './server.js';

interface ApiResult {
  status: number;
  headers: Headers;
  body: {
    success: boolean;
    errors: Array<{ code: number; message: string }>;
    messages: unknown[];
    // biome-ignore lint/suspicious/noExplicitAny: tests read whatever shape each endpoint returns
    result: any;
    result_info?: { page: number; per_page: number; count: number; total_count: number; total_pages: number };
  };
}

/** An emulator with one account, zones example.com and example.org, and a token for all of it. */
export async function emulatorWithWorld(options: CloudflareEmulatorOptions = {}) {
  const emulator = await startCloudflareEmulator(options);
  const account = emulator.createAccount('Acme');
  const zone = emulator.createZone('example.com', account.id);
  const otherZone = emulator.createZone('example.org', account.id);
  const token = emulator.createToken({ accountIds: [account.id], zoneNames: 'all', name: 'main' });
  const api = async (method: string, path: string, body?: unknown, bearer = token): Promise<ApiResult> => {
    const response = await fetch(`${emulator.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as ApiResult['body'],
    };
  };
  const edge = async (path: string, body: unknown) => {
    const response = await fetch(`${emulator.edgeUrl}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  return { emulator, account, zone, otherZone, token, api, edge };
}

export type EmulatorWorld = Awaited<ReturnType<typeof emulatorWithWorld>>;
