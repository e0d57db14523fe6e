import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TunnelState } from '@tunnelfleet/common';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTunnelStateCache } from './tunnel-state-cache.js';

const TOKEN = Buffer.from(
  JSON.stringify({ a: 'acct', t: 'tunnel', s: 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=' }),
).toString('base64');

function state(overrides: Partial<TunnelState> = {}): TunnelState {
  return {
    schemaVersion: 1,
    tunnelId: '6ff42ae2-765d-4adf-8112-31c55c1551ef',
    tunnelName: 'host-a',
    token: TOKEN,
    cloudflaredImage: 'cloudflare/cloudflared:latest',
    desiredState: 'running',
    version: 3,
    updatedAt: '2025-01-01T00:00:00.000Z',
    ...overrides,
  };
}

let dir: string;
let logs: string[];

function cache(dataDir = dir) {
  logs = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  return createTunnelStateCache({ dataDir, logger });
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tf-state-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createTunnelStateCache', () => {
  it('reads back what it wrote, owner-only, leaving no temp file', async () => {
    const dataDir = join(dir, 'data');
    const store = cache(dataDir);
    expect(await store.readTunnelState()).toBeUndefined();
    expect(await store.readAgentId()).toBeUndefined();

    await store.writeTunnelState(state());
    await store.writeAgentId('agent-7f3a');
    expect(await store.readTunnelState()).toEqual(state());
    expect(await store.readAgentId()).toBe('agent-7f3a');

    expect(await modeOf(join(dataDir, 'tunnel_state.json'))).toBe(0o600);
    expect(await modeOf(join(dataDir, 'agent_id'))).toBe(0o600);
    expect(await modeOf(dataDir)).toBe(0o700);
    expect((await readdir(dataDir)).sort()).toEqual(['agent_id', 'tunnel_state.json']);
    expect(logs.join('')).not.toContain(TOKEN);
  });

  it('never lets a reader see a partial file while it is rewritten', async () => {
    const store = cache();
    const states = [state({ version: 1 }), state({ version: 2, tunnelName: 'x'.repeat(200) })];
    await store.writeTunnelState(states[0]!);
    const reads: (TunnelState | undefined)[] = [];
    let writing = true;
    const reader = (async () => {
      while (writing) reads.push(await store.readTunnelState());
    })();
    for (let i = 0; i < 100; i++) await store.writeTunnelState(states[i % 2]!);
    writing = false;
    await reader;
    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) expect(states).toContainEqual(read);
    expect(await readdir(dir)).toEqual(['tunnel_state.json']);
  });

  it('sets a file that is not JSON aside without logging its content', async () => {
    const path = join(dir, 'tunnel_state.json');
    const garbage = `{"token": "${TOKEN}", oops`;
    await writeFile(path, garbage, { mode: 0o600 });
    const store = cache();

    expect(await store.readTunnelState()).toBeUndefined();
    expect(await readFile(`${path}.corrupt`, 'utf8')).toBe(garbage);
    expect(await modeOf(`${path}.corrupt`)).toBe(0o600);
    expect(await readdir(dir)).toEqual(['tunnel_state.json.corrupt']);
    expect(logs.join('')).toContain('not valid JSON');
    expect(logs.join('')).not.toContain(TOKEN);

    // The agent carries on: the next write and read work.
    await store.writeTunnelState(state());
    expect(await store.readTunnelState()).toEqual(state());
  });

  it('sets a file that fails the schema aside, naming the field', async () => {
    const path = join(dir, 'tunnel_state.json');
    const { tunnelId: _dropped, ...incomplete } = state();
    await writeFile(path, JSON.stringify({ ...incomplete, token: 'not a token!' }), { mode: 0o600 });
    const store = cache();

    expect(await store.readTunnelState()).toBeUndefined();
    const log = logs.join('');
    expect(log).toContain('tunnelId');
    expect(log).toContain('token');
    expect(log).not.toContain('not a token!');
    expect(await readdir(dir)).toEqual(['tunnel_state.json.corrupt']);
  });

  it('sets aside an agent_id that is not an identifier', async () => {
    await writeFile(join(dir, 'agent_id'), 'bad id with spaces\n', { mode: 0o600 });
    const store = cache();
    expect(await store.readAgentId()).toBeUndefined();
    expect(await readdir(dir)).toEqual(['agent_id.corrupt']);
  });

  it('restricts a file that others could read', async () => {
    const store = cache();
    await store.writeTunnelState(state());
    const path = join(dir, 'tunnel_state.json');
    await chmod(path, 0o644);
    expect(await store.readTunnelState()).toEqual(state());
    expect(await modeOf(path)).toBe(0o600);
  });

  it('refuses to write an invalid state', async () => {
    const store = cache();
    await expect(store.writeTunnelState(state({ token: 'short' }))).rejects.toThrow(/token/);
    expect(await readdir(dir)).toEqual([]);
  });
});
