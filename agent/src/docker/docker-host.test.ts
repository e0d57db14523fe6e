import { ConfigError } from '@tunnelfleet/common';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DOCKER_SOCKET, parseDockerHost } from './docker-host.js';

describe('parseDockerHost', () => {
  it.each([
    [undefined, { kind: 'unix', socketPath: DEFAULT_DOCKER_SOCKET }],
    ['', { kind: 'unix', socketPath: DEFAULT_DOCKER_SOCKET }],
    ['unix:///run/docker2.sock', { kind: 'unix', socketPath: '/run/docker2.sock' }],
    ['/var/run/docker.sock', { kind: 'unix', socketPath: '/var/run/docker.sock' }],
    ['tcp://socket-proxy:2375', { kind: 'tcp', host: 'socket-proxy', port: 2375, protocol: 'http' }],
    ['tcp://127.0.0.1:40123/', { kind: 'tcp', host: '127.0.0.1', port: 40123, protocol: 'http' }],
    ['tcp://proxy', { kind: 'tcp', host: 'proxy', port: 2375, protocol: 'http' }],
    ['https://docker.internal', { kind: 'tcp', host: 'docker.internal', port: 2376, protocol: 'https' }],
    ['tcp://[::1]:2375', { kind: 'tcp', host: '::1', port: 2375, protocol: 'http' }],
  ])('%s', (value, expected) => {
    expect(parseDockerHost(value)).toEqual(expected);
  });

  it.each([
    'unix://relative.sock',
    'ssh://user@host',
    'socket-proxy:2375',
    'tcp://host:2375/prefix',
    'tcp://',
  ])('rejects %s naming DOCKER_HOST', (value) => {
    let caught: unknown;
    try {
      parseDockerHost(value);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variables).toEqual(['DOCKER_HOST']);
  });
});
