import { MAX_REPORTED_REFUSALS } from '../gateway/route-refusal.js';
/**
 * Size limits of the agent protocol. They exist so that a hostile or broken body is rejected by
 * the schema before any work is done; they are generous for real hosts.
 */
export const PROTOCOL_LIMITS = {
  /** Characters of a short identifier (agent id, command id, container id). */
  idLength: 128,
  /** Characters of a human name (agent name, tunnel name, container name). */
  nameLength: 255,
  /** Characters of a free-text message (errors, reasons). */
  messageLength: 2000,
  /**
   * Labels on one container (its image's included). Real containers carry tens; the master's work
   * per snapshot grows with the number of labels in it (about 0.5 s for 1,000 containers of 256
   * labels, four times that at 1,000 labels each).
   */
  labelsPerContainer: 256,
  /** Characters of one label key. */
  labelKeyLength: 512,
  /** Characters of one label value. */
  labelValueLength: 4096,
  /**
   * Containers in one snapshot: the most containers carrying Tunnelfleet labels one host may run
   * (docs/agent.md). Containers without our labels are never reported and do not count.
   */
  containersPerSnapshot: 1000,
  /**
   * Bytes of one container's JSON as the agent sends it (`JSON.stringify`, UTF-8): all its labels,
   * networks and ports together. The per-field limits bound each part; this bounds their sum, which
   * the per-field limits alone would put in the gigabytes. A container over it is left out of the
   * reports, with a warning in the agent's log.
   */
  containerJsonBytes: 16 * 1024,
  /** Networks one container is attached to. */
  networksPerContainer: 64,
  /** Aliases of a container on one network. */
  aliasesPerNetwork: 64,
  /** Exposed ports of one container. */
  portsPerContainer: 1024,
  /** Characters of a cloudflared tunnel token. */
  tunnelTokenLength: 8192,
  /** Characters of a Docker image reference. */
  imageRefLength: 512,
  /** Routes of one host's L7 gateway (`set_gateway_routes`): its containers' routes that need it. */
  gatewayRoutes: 5000,
  /**
   * Routes of the gateway's traffic one heartbeat carries (`gatewayTraffic`): those whose numbers
   * changed first, the rest in later heartbeats. Bounds the heartbeat and the master's work on it.
   */
  gatewayTrafficRoutes: 100,
  /** Extra cloudflared arguments. */
  extraArgs: 32,
  /** Characters of one extra cloudflared argument. */
  extraArgLength: 512,
  /** Hostname patterns in an allowlist. */
  allowedHostnames: 1000,
  /** Characters of a hostname (RFC 1035 limit). */
  hostnameLength: 253,
} as const;

/**
 * Bytes of a snapshot's JSON besides its containers: agent id (128), sequence, timestamp,
 * fingerprint (71), kind, keys and brackets come to under 400; the rest is headroom.
 */
const SNAPSHOT_ENVELOPE_BYTES = 1024;

/**
 * Body size the master accepts on `POST /api/v1/agent/reports` (express `json({ limit })`): the
 * largest valid snapshot, `containersPerSnapshot` containers of `containerJsonBytes` each with a
 * comma between them, plus the envelope. Anything above it is refused before parsing. 16,386,024
 * bytes (15.6 MiB) with the limits above.
 */
export const MAX_AGENT_BODY_BYTES =
  SNAPSHOT_ENVELOPE_BYTES + PROTOCOL_LIMITS.containersPerSnapshot * (PROTOCOL_LIMITS.containerJsonBytes + 1);

/**
 * Bytes of one route's traffic in a heartbeat at the most: a 128-character id and every number at
 * its longest come to about 550; real ones (`route-12`, small counts) to about 200.
 */
const GATEWAY_TRAFFIC_ROUTE_BYTES = 640;

/**
 * Bytes of one route the gateway refused, in a heartbeat at the most: a 128-character id, a code
 * and a 400-character reason, JSON-escaped.
 */
const GATEWAY_REFUSAL_BYTES = 700;

/**
 * Body size the master accepts on `POST /api/v1/agent/heartbeat`: the API's default 16 KiB for the
 * host's status, plus the gateway's traffic and its refused routes at their largest (about 148 KiB
 * with the limits above).
 */
export const MAX_HEARTBEAT_BODY_BYTES =
  16 * 1024 +
  PROTOCOL_LIMITS.gatewayTrafficRoutes * GATEWAY_TRAFFIC_ROUTE_BYTES +
  MAX_REPORTED_REFUSALS * GATEWAY_REFUSAL_BYTES;
