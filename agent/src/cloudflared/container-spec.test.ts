import { describe, expect, it } from 'vitest';
import {
  buildCloudflaredSpec,
  CLOUDFLARED_LABELS,
  type CloudflaredSpecInput,
  cloudflaredContainerName,
  isConnectorOf,
  tokenHash,
} from './container-spec.js';

const input: CloudflaredSpecInput = {
  agentId: 'agent:01/weird',
  tunnelId: '6ff42ae2-765d-4adf-8112-31c55c1551ef',
  token: 'dG9rZW4tdG9rZW4tdG9rZW4=',
  image: 'cloudflare/cloudflared:2025.1.0',
  network: 'tunnelfleet',
  metricsNetwork: 'tunnelfleet-metrics',
  metricsPort: 20241,
};

describe('buildCloudflaredSpec', () => {
  it('puts settings before "run" and the token only in the environment', () => {
    const spec = buildCloudflaredSpec({
      ...input,
      settings: {
        protocol: 'http2',
        logLevel: 'warn',
        extraArgs: ['--edge-ip-version', '4'],
        metricsPort: 9000,
      },
    });
    expect(spec.createOptions.Cmd).toEqual([
      'tunnel',
      '--no-autoupdate',
      '--metrics',
      `${spec.metricsAlias}:9000`,
      '--protocol',
      'http2',
      '--loglevel',
      'warn',
      '--edge-ip-version',
      '4',
      'run',
    ]);
    expect(spec.createOptions.Env).toEqual([`TUNNEL_TOKEN=${input.token}`]);
    expect(JSON.stringify(spec.createOptions.Labels)).not.toContain(input.token);
    expect(spec.metricsPort).toBe(9000);
  });

  it('maps each typed setting to its flag, on the side of "run" cloudflared defines it', () => {
    const spec = buildCloudflaredSpec({
      ...input,
      settings: {
        protocol: 'quic',
        logLevel: 'debug',
        edgeIpVersion: '6',
        region: 'us',
        retries: 7,
        gracePeriodSeconds: 45,
        postQuantum: true,
      },
    });
    expect(spec.createOptions.Cmd).toEqual([
      'tunnel',
      '--no-autoupdate',
      '--metrics',
      `${spec.metricsAlias}:20241`,
      '--protocol',
      'quic',
      '--loglevel',
      'debug',
      '--edge-ip-version',
      '6',
      '--region',
      'us',
      '--retries',
      '7',
      '--grace-period',
      '45s',
      'run',
      '--post-quantum',
    ]);
    expect(spec.stopTimeoutSeconds).toBe(50);
    // Off is cloudflared's default: no flag at all, so the command line (and hash) is unchanged.
    expect(buildCloudflaredSpec({ ...input, settings: { postQuantum: false } }).specHash).toBe(
      buildCloudflaredSpec(input).specHash,
    );
  });

  it('puts the metrics server on the metrics network alone, under an alias that exists only there', () => {
    const spec = buildCloudflaredSpec(input);
    expect(spec.metricsNetwork).toBe('tunnelfleet-metrics');
    expect(spec.metricsAlias).toMatch(/^tunnelfleet-metrics-[0-9a-f]{12}$/);
    expect(spec.createOptions.Cmd).toContain(`${spec.metricsAlias}:20241`);
    expect(JSON.stringify(spec.createOptions.Cmd)).not.toContain('0.0.0.0');
    expect(spec.createOptions.HostConfig?.NetworkMode).toBe('tunnelfleet');
  });

  it('uses the network from the settings over the default', () => {
    const spec = buildCloudflaredSpec({ ...input, settings: { network: 'edge' } });
    expect(spec.network).toBe('edge');
    expect(spec.createOptions.HostConfig?.NetworkMode).toBe('edge');
  });

  it('changes its hash with the token, image, network or arguments only', () => {
    const base = buildCloudflaredSpec(input).specHash;
    expect(buildCloudflaredSpec({ ...input }).specHash).toBe(base);
    expect(
      buildCloudflaredSpec({ ...input, tunnelId: '00000000-0000-4000-8000-000000000000' }).specHash,
    ).toBe(base);
    for (const changed of [
      { token: 'b3RoZXItb3RoZXItb3RoZXI=' },
      { image: 'cloudflare/cloudflared:2025.2.0' },
      { network: 'other' },
      { metricsNetwork: 'other-metrics' },
      { settings: { protocol: 'quic' as const } },
      { settings: { retries: 3 } },
      { settings: { postQuantum: true } },
    ]) {
      expect(buildCloudflaredSpec({ ...input, ...changed }).specHash).not.toBe(base);
    }
  });

  it("gives Docker a stop timeout beyond cloudflared's grace period, so a stop lets requests finish", () => {
    // cloudflared waits up to --grace-period (30 s by default) for in-flight requests after SIGTERM.
    expect(buildCloudflaredSpec(input).createOptions.StopTimeout).toBe(35);
    for (const [extraArgs, timeout] of [
      [['--grace-period', '1m'], 65],
      [['--grace-period=90s'], 95],
      [['--edge-ip-version', '4', '--grace-period', '1m30s'], 95],
      [['--grace-period', '2500ms'], 8],
    ] as const) {
      const spec = buildCloudflaredSpec({ ...input, settings: { extraArgs: [...extraArgs] } });
      expect(spec.createOptions.StopTimeout).toBe(timeout);
      expect(spec.stopTimeoutSeconds).toBe(timeout);
    }
  });

  it('derives a valid, stable container name and a short token hash', () => {
    expect(cloudflaredContainerName(input.agentId)).toMatch(/^tunnelfleet-cloudflared-[0-9a-f]{12}$/);
    expect(cloudflaredContainerName(input.agentId)).toBe(cloudflaredContainerName('agent:01/weird'));
    expect(tokenHash(input.token)).toMatch(/^[0-9a-f]{16}$/);
    expect(tokenHash(input.token)).not.toBe(tokenHash('b3RoZXItb3RoZXItb3RoZXI='));
  });
});

describe('a shared tunnel connector', () => {
  it("has its own name, metrics alias and label beside the agent's own cloudflared", () => {
    const sharedTunnelId = '0B6AE2C1-0000-4ADF-8112-31C55C1551EF';
    const own = buildCloudflaredSpec(input);
    const shared = buildCloudflaredSpec({ ...input, sharedTunnelId });
    expect(shared.name).not.toBe(own.name);
    expect(shared.name).toBe(cloudflaredContainerName(input.agentId, sharedTunnelId.toLowerCase()));
    expect(shared.name).toMatch(/^tunnelfleet-cloudflared-[0-9a-f]{12}-shared-[0-9a-f]{12}$/);
    expect(shared.metricsAlias).not.toBe(own.metricsAlias);
    expect(shared.createOptions.Labels?.[CLOUDFLARED_LABELS.sharedTunnel]).toBe(sharedTunnelId.toLowerCase());
    expect(own.createOptions.Labels?.[CLOUDFLARED_LABELS.sharedTunnel]).toBeUndefined();
    // Each supervisor sees only its own connector.
    expect(isConnectorOf(own.createOptions.Labels!, undefined)).toBe(true);
    expect(isConnectorOf(shared.createOptions.Labels!, undefined)).toBe(false);
    expect(isConnectorOf(shared.createOptions.Labels!, sharedTunnelId)).toBe(true);
    expect(isConnectorOf(own.createOptions.Labels!, sharedTunnelId)).toBe(false);
    expect(isConnectorOf(shared.createOptions.Labels!, input.tunnelId)).toBe(false);
  });
});
