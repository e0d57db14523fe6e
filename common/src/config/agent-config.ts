import { z } from 'zod';
import { checkLabelPrefix, LABEL_PREFIX_VARIABLES, type LabelPrefixTool } from '../labels/label-prefixes.js';
import { parseApiKey } from '../protocol/api-key.js';
import { envDockerHost } from './docker-host.js';
import { envInt, envString, envUrl } from './env-parsers.js';
import { type ConfigOf, envVar, optionalEnvVar } from './env-var.js';
import { logLevelVar } from './log-level-var.js';

/** A peer tool's custom label prefix, normalized; undefined when it is the tool's own. */
function envLabelPrefix(tool: LabelPrefixTool) {
  return z.string().transform((text, ctx) => {
    const checked = checkLabelPrefix(text, tool);
    if (checked.ok) return checked.value;
    ctx.addIssue({ code: 'custom', message: checked.reason });
    return z.NEVER;
  });
}

/** Environment of the agent. `agentName` is unset when the variable is: use the machine's host name. */
export const agentConfigSpec = {
  masterUrl: envVar('TUNNELFLEET_MASTER_URL', envUrl(), {
    doc: 'Base URL of the Tunnelfleet master (HTTPS in production).',
    example: 'https://tunnelfleet.example.com',
  }),
  apiKey: envVar(
    'TUNNELFLEET_API_KEY',
    envString().refine(
      (key) => parseApiKey(key) !== null,
      'must be an agent API key (tfk_<16 hex>_<43 chars>)',
    ),
    {
      doc: 'Agent API key created on the master (shown once). Secret.',
      example: 'tfk_0123456789abcdef_<secret>',
      secret: true,
    },
  ),
  agentName: optionalEnvVar(
    'TUNNELFLEET_AGENT_NAME',
    envString({
      max: 255,
      pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
      patternText: 'letters, digits, "_", "." and "-" only',
    }),
    { doc: 'Name of this host in the dashboard.', example: 'docker-host-1', defaultDoc: 'the host name' },
  ),
  dockerHost: envVar('DOCKER_HOST', envDockerHost(), {
    doc: 'Docker API endpoint: the local socket, or tcp:// to a socket proxy.',
    example: 'tcp://socket-proxy:2375',
    defaultValue: 'unix:///var/run/docker.sock',
  }),
  cloudflaredImage: envVar(
    'CLOUDFLARED_IMAGE',
    envString({
      max: 512,
      pattern: /^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$/,
      patternText: 'must be a Docker image reference',
    }),
    {
      doc: 'cloudflared image to run when the master does not name one.',
      example: 'cloudflare/cloudflared:2025.1.0',
      defaultValue: 'cloudflare/cloudflared:latest',
    },
  ),
  cloudflaredOverlapSeconds: envVar('CLOUDFLARED_OVERLAP_SECONDS', envInt(0, 600), {
    doc: 'When cloudflared is replaced (new token, image or settings), how long the old container keeps serving while the new one becomes ready: both are connectors of the tunnel meanwhile. 0 stops the old one first.',
    example: '20',
    defaultValue: '20',
  }),
  cloudflaredNetwork: envVar(
    'CLOUDFLARED_NETWORK',
    envString({
      max: 255,
      pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
      patternText: 'must be a Docker network name',
    }),
    {
      doc: 'Docker network cloudflared joins (created if missing); published containers must be on it.',
      example: 'tunnelfleet',
      defaultValue: 'tunnelfleet',
    },
  ),
  gatewayImage: optionalEnvVar(
    'GATEWAY_IMAGE',
    envString({
      max: 512,
      pattern: /^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$/,
      patternText: 'must be a Docker image reference',
    }),
    {
      doc: "Image of the L7 gateway container the agent runs beside cloudflared: the agent's own image\n(the gateway is its `node dist/gateway/main.js`). Unset: no gateway runs on this host.",
      example: 'tunnelfleet/agent:latest',
      defaultDoc: 'no gateway',
    },
  ),
  reportIntervalSeconds: envVar('REPORT_INTERVAL_SECONDS', envInt(1, 3600), {
    doc: 'Seconds between heartbeats and periodic full snapshots (the master may override it).',
    example: '30',
    defaultValue: '30',
  }),
  dataDir: envVar('TUNNELFLEET_DATA_DIR', envString(), {
    doc: 'Directory for agent_id and tunnel_state.json (keep it on a volume).',
    example: '/app/data',
    defaultValue: '/app/data',
  }),
  logLevel: logLevelVar(),
  healthPort: envVar('TUNNELFLEET_HEALTH_PORT', envInt(0, 65535), {
    doc: 'Port of the health endpoint used by the image HEALTHCHECK (0 turns it off).',
    example: '8081',
    defaultValue: '8081',
  }),
  healthHost: envVar('TUNNELFLEET_HEALTH_HOST', envString({ max: 255 }), {
    doc: 'Address the health endpoint listens on. Loopback keeps it from the published containers,\nwhich share a network with the agent; the image HEALTHCHECK asks on loopback. 0.0.0.0 only\nfor a monitor that must reach it from outside the container.',
    example: '127.0.0.1',
    defaultValue: '127.0.0.1',
  }),
  dockflareLabelPrefix: optionalEnvVar(LABEL_PREFIX_VARIABLES.dockflare, envLabelPrefix('dockflare'), {
    doc: "DockFlare's custom label prefix, as DockFlare reads it: labels under it are read before\ndockflare.* and cloudflare.tunnel.*, key by key. The master reads this host's labels with it.\nLetters, digits, _ - and single dots; it may not overlap the prefixes Tunnelfleet reads\n(tunnelfleet. dockflare. cloudflare.tunnel. labelgate.) nor Docker's com.docker.",
    example: 'mycorp',
    defaultDoc: 'none (dockflare. and cloudflare.tunnel.)',
  }),
  labelgateLabelPrefix: optionalEnvVar(LABEL_PREFIX_VARIABLES.labelgate, envLabelPrefix('labelgate'), {
    doc: "Labelgate's custom label prefix, as Labelgate reads it: <prefix>.tunnel.<service>.* instead of\nlabelgate.tunnel.<service>.*. The master reads this host's labels with it. Same rules as\nLABEL_PREFIX, and the two may not overlap.",
    example: 'edge',
    defaultDoc: 'labelgate',
  }),
};

export type AgentConfig = ConfigOf<typeof agentConfigSpec>;
