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
  /** Labels on one container. */
  labelsPerContainer: 1000,
  /** Characters of one label key. */
  labelKeyLength: 512,
  /** Characters of one label value. */
  labelValueLength: 4096,
  /** Containers in one snapshot. */
  containersPerSnapshot: 5000,
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
 * Body size the master should accept on the agent API (express `json({ limit })`). A full snapshot
 * of many containers is the largest body; anything above this is refused before parsing.
 */
export const MAX_AGENT_BODY_BYTES = 16 * 1024 * 1024;
