import { cloudflaredSettingsSchema, heartbeatRequestSchema } from '@tunnelfleet/common';
import { describe, expect, it } from 'vitest';
import { mergeCloudflared } from './cloudflared-config.js';

const DEFAULT_IMAGE = 'cloudflare/cloudflared:latest';

describe('mergeCloudflared', () => {
  it("takes the host's override field by field over the fleet's, over the master's image", () => {
    expect(mergeCloudflared(DEFAULT_IMAGE, undefined, undefined)).toEqual({
      image: DEFAULT_IMAGE,
      settings: {},
      overridden: false,
    });
    const fleet = {
      image: 'cloudflare/cloudflared:2025.1.0',
      settings: { protocol: 'http2' as const, retries: 3 },
    };
    expect(mergeCloudflared(DEFAULT_IMAGE, fleet, { image: null, settings: { protocol: 'quic' } })).toEqual({
      image: 'cloudflare/cloudflared:2025.1.0',
      settings: { protocol: 'quic', retries: 3 },
      overridden: true,
    });
    // An override that names nothing is the fleet's choice, not an override.
    expect(mergeCloudflared(DEFAULT_IMAGE, fleet, { image: null, settings: {} }).overridden).toBe(false);
  });
});

describe('the protocol', () => {
  it('refuses post-quantum with http2, as cloudflared does', () => {
    expect(cloudflaredSettingsSchema.safeParse({ protocol: 'http2', postQuantum: true }).success).toBe(false);
    expect(cloudflaredSettingsSchema.safeParse({ protocol: 'quic', postQuantum: true }).success).toBe(true);
    expect(cloudflaredSettingsSchema.safeParse({ postQuantum: true }).success).toBe(true);
  });

  it("accepts a heartbeat without cloudflared's version fields, as older agents send it", () => {
    const beat = {
      agentId: 'ag_0123456789abcdef',
      uptimeSeconds: 1,
      cloudflared: { state: 'running', ready: true, tunnelId: null, containerId: null },
      lastAppliedCommandVersion: null,
      dockerReachable: true,
    };
    expect(heartbeatRequestSchema.safeParse(beat).success).toBe(true);
    const withVersion = {
      ...beat,
      cloudflared: { ...beat.cloudflared, version: '2023.7.3', connectorId: 'not-a-uuid' },
    };
    expect(heartbeatRequestSchema.safeParse(withVersion).success).toBe(false);
  });
});
