import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDockerEngine } from './docker-engine.js';
import {
  type DockerSocketProxyHandle,
  dockerSocketProxyConfig,
  startDockerSocketProxy,
} from './docker-socket-proxy.js';
import { uniqueName } from './unique-name.js';
import { waitFor } from './wait-for.js';

// The proxy forwards to the provisioned engine socket, whatever DOCKER_HOST says in this process.
const ENGINE_SOCKET = '/var/run/docker.sock';

async function status(proxy: DockerSocketProxyHandle, method: string, path: string): Promise<number> {
  const response = await fetch(`${proxy.url}${path}`, {
    method,
    ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}),
  });
  await response.body?.cancel();
  return response.status;
}

describe('startDockerSocketProxy with sections and POST', () => {
  let proxy: DockerSocketProxyHandle;
  beforeAll(async () => {
    await connectDockerEngine(`unix://${ENGINE_SOCKET}`);
    proxy = await startDockerSocketProxy({
      permissions: ['CONTAINERS', 'EVENTS', 'NETWORKS', 'POST', 'PING'],
      socketPath: ENGINE_SOCKET,
    });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('passes the granted sections, with or without an API version', async () => {
    expect(await status(proxy, 'GET', '/_ping')).toBe(200);
    expect(await status(proxy, 'HEAD', '/_ping')).toBe(200);
    expect(await status(proxy, 'GET', '/containers/json')).toBe(200);
    expect(await status(proxy, 'GET', '/v1.41/containers/json')).toBe(200);
    // The path is matched after URL decoding, as the engine reads it.
    expect(await status(proxy, 'GET', '/v1.41/%63ontainers/json')).toBe(200);
    expect(await status(proxy, 'GET', '/v1.41/networks')).toBe(200);
  });

  it('answers 403 to every section it was not given, whatever the method', async () => {
    for (const path of [
      '/volumes',
      '/v1.41/volumes',
      '/info',
      '/version',
      '/images/json',
      '/exec/abc/json',
      '/system/df',
    ])
      expect({ path, status: await status(proxy, 'GET', path) }).toEqual({ path, status: 403 });
    expect(await status(proxy, 'POST', '/v1.41/volumes/create')).toBe(403);
    expect(await status(proxy, 'POST', '/v1.41/build')).toBe(403);
    expect(await status(proxy, 'POST', '/v1.41/%62uild')).toBe(403);
  });

  it('lets a dockerode client work through it: allowed calls succeed, denied ones fail with 403', async () => {
    const docker = await connectDockerEngine(proxy.dockerHost);
    const name = uniqueName('tf-proxy-net');
    const events = (await docker.getEvents({ filters: { type: ['network'], network: [name] } })) as Readable;
    let seen = '';
    events.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
    });
    try {
      const network = await docker.createNetwork({ Name: name });
      await network.remove();
      await waitFor(() => seen.includes('"destroy"'), {
        description: 'the network events through the proxy',
      });
      expect(seen).toContain('"create"');
    } finally {
      events.destroy();
    }
    await expect(docker.listVolumes()).rejects.toMatchObject({ statusCode: 403 });
    await expect(docker.info()).rejects.toMatchObject({ statusCode: 403 });
  });
});

describe('startDockerSocketProxy without POST', () => {
  let proxy: DockerSocketProxyHandle;
  beforeAll(async () => {
    proxy = await startDockerSocketProxy({
      permissions: ['CONTAINERS', 'NETWORKS'],
      socketPath: ENGINE_SOCKET,
    });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('is read-only: GET passes, any other method on the same section is 403', async () => {
    expect(await status(proxy, 'GET', '/v1.41/containers/json')).toBe(200);
    expect(await status(proxy, 'POST', '/v1.41/containers/create')).toBe(403);
    expect(await status(proxy, 'POST', '/v1.41/networks/create')).toBe(403);
    expect(await status(proxy, 'DELETE', '/v1.41/networks/none')).toBe(403);
    expect(await status(proxy, 'GET', '/_ping')).toBe(403);
  });
});

describe('dockerSocketProxyConfig', () => {
  it('opens only the granted sections and keeps idle event streams open', () => {
    const config = dockerSocketProxyConfig({
      permissions: ['EVENTS', 'PING'],
      port: 2375,
      socketPath: '/run/x.sock',
    });
    expect(config).toContain('allow if { path,url_dec -m reg -i ^(/v[\\d.]+)?/events }');
    expect(config).toContain('allow if { path,url_dec -m reg -i ^(/v[\\d.]+)?/_ping }');
    expect(config).not.toMatch(/allow if .*\/containers/);
    expect(config).toContain('deny deny_status 403 unless METH_GET');
    expect(config).toMatch(/backend engine_events\n\s+timeout server 24h/);
  });
});
