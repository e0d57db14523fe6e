import { randomUUID } from 'node:crypto';
import type { CommandRequest } from '#master/commands/command-job.js';

/** Sample commands for the gateway's tests. */
export function startTunnel(name = 'host-a'): CommandRequest {
  return {
    type: 'start_tunnel',
    payload: {
      tunnelId: randomUUID(),
      tunnelName: name,
      token: 'eyJhIjoiYWNjb3VudCIsInQiOiJ0dW5uZWwifQ==',
      cloudflaredImage: 'cloudflare/cloudflared:2025.1.0',
    },
  };
}

export function stopTunnel(reason = 'test'): CommandRequest {
  return { type: 'stop_tunnel', payload: { tunnelId: randomUUID(), reason } };
}

export function uniqueAgentId(): string {
  return `agent-${randomUUID()}`;
}
