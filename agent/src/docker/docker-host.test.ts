import { connectDockerEngine } from '@tunnelfleet/test';
import { afterEach, describe, expect, it } from 'vitest';
import { createDockerClient } from './docker-host.js';

const PROVISIONED_SOCKET = '/var/run/docker.sock';
const savedDockerHost = process.env.DOCKER_HOST;

afterEach(() => {
  if (savedDockerHost === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = savedDockerHost;
});

describe('createDockerClient', () => {
  it('uses the endpoint it is given even when the raw DOCKER_HOST says otherwise', async () => {
    await connectDockerEngine(`unix://${PROVISIONED_SOCKET}`);
    process.env.DOCKER_HOST = 'tcp://127.0.0.1:1';
    const docker = createDockerClient({ kind: 'unix', socketPath: PROVISIONED_SOCKET });
    expect(String(await docker.ping())).toBe('OK');
  });
});
