import { envInt, envString } from './env-parsers.js';
import { type ConfigOf, envVar } from './env-var.js';
import { logLevelVar } from './log-level-var.js';

/**
 * Environment of the L7 gateway (`node agent/dist/gateway/main.js`). The agent creates the gateway's
 * container and sets every variable; an operator sets them only to run a gateway by hand.
 */
export const gatewayConfigSpec = {
  listenPort: envVar('GATEWAY_LISTEN_PORT', envInt(0, 65535), {
    doc: 'Port cloudflared sends L7 routes to (0 picks a free one).',
    example: '8080',
    defaultValue: '8080',
  }),
  listenHost: envVar('GATEWAY_LISTEN_HOST', envString({ max: 255 }), {
    doc: 'Address the proxy listens on.',
    example: '0.0.0.0',
    defaultValue: '0.0.0.0',
  }),
  apiPort: envVar('GATEWAY_API_PORT', envInt(0, 65535), {
    doc: 'Port of the local API the agent pushes the routing table to (0 picks a free one).',
    example: '8081',
    defaultValue: '8081',
  }),
  apiHost: envVar('GATEWAY_API_HOST', envString({ max: 255 }), {
    doc: "Address the local API listens on: the gateway's alias on the internal network it shares\nwith the agent alone, so published containers cannot reach it.",
    example: '127.0.0.1',
    defaultValue: '127.0.0.1',
  }),
  apiToken: envVar('GATEWAY_API_TOKEN', envString({ min: 32, max: 256 }), {
    doc: 'Bearer token the agent presents to the local API. Secret.',
    example: '<64 hex characters>',
    secret: true,
  }),
  dataDir: envVar('GATEWAY_DATA_DIR', envString(), {
    doc: 'Directory of the last routing table (routing-table.json, 0600), served at once after a restart.',
    example: '/app/data',
    defaultValue: '/app/data',
  }),
  connectTimeoutMs: envVar('GATEWAY_CONNECT_TIMEOUT_MS', envInt(1, 600_000), {
    doc: 'Milliseconds to open a connection to a backend.',
    example: '5000',
    defaultValue: '5000',
  }),
  headersTimeoutMs: envVar('GATEWAY_HEADERS_TIMEOUT_MS', envInt(1, 3_600_000), {
    doc: 'Milliseconds a backend has to send its response headers once the request is sent.',
    example: '60000',
    defaultValue: '60000',
  }),
  bodyTimeoutMs: envVar('GATEWAY_BODY_TIMEOUT_MS', envInt(0, 3_600_000), {
    doc: 'Milliseconds allowed between two chunks of a response body (0: no limit).',
    example: '300000',
    defaultValue: '300000',
  }),
  keepAliveTimeoutMs: envVar('GATEWAY_KEEPALIVE_TIMEOUT_MS', envInt(1, 600_000), {
    doc: 'Milliseconds an idle pooled connection to a backend is kept.',
    example: '4000',
    defaultValue: '4000',
  }),
  healthProbeIntervalMs: envVar('GATEWAY_HEALTH_PROBE_INTERVAL_MS', envInt(50, 600_000), {
    doc: 'Milliseconds between probes of a group member taken out (a connect failure or a 5xx); it is\nput back when a probe succeeds.',
    example: '2000',
    defaultValue: '2000',
  }),
  logLevel: logLevelVar(),
};

export type GatewayConfig = ConfigOf<typeof gatewayConfigSpec>;
