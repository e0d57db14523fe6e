import { z } from 'zod';
import { PROTOCOL_LIMITS } from './limits.js';
import {
  boundedRecord,
  containerIdSchema,
  imageRefSchema,
  nameSchema,
  networkNameSchema,
} from './primitives.js';

/** Docker's container states, as `docker inspect` reports `State.Status`. */
export const dockerContainerStateSchema = z.enum([
  'created',
  'running',
  'paused',
  'restarting',
  'exited',
  'dead',
  'removing',
]);

/**
 * What the agent reports: Docker's state, or `sleeping` for a stopped container that wakes on
 * request (the agent stopped it after its idle timeout, or its labels say `wake=true`). The master
 * keeps a sleeping container's wake routes published; any other stop starts the grace period.
 */
export const containerStateSchema = z.enum([...dockerContainerStateSchema.options, 'sleeping']);
export type ContainerState = z.infer<typeof containerStateSchema>;

/**
 * Every label of the container, not only ours: the master's parser needs them all to report unknown
 * keys under a known prefix. Keys such as `__proto__` are rejected.
 */
const containerLabelsSchema = boundedRecord(
  z.string().min(1).max(PROTOCOL_LIMITS.labelKeyLength),
  z.string().max(PROTOCOL_LIMITS.labelValueLength),
  PROTOCOL_LIMITS.labelsPerContainer,
);
export type ContainerLabels = z.infer<typeof containerLabelsSchema>;

const containerNetworkSchema = z.strictObject({
  /** Empty when Docker has not assigned one yet (container not running). */
  ipAddress: z.string().max(64),
  aliases: z.array(z.string().min(1).max(PROTOCOL_LIMITS.nameLength)).max(PROTOCOL_LIMITS.aliasesPerNetwork),
});

const exposedPortSchema = z.strictObject({
  port: z.number().int().min(1).max(65535),
  protocol: z.enum(['tcp', 'udp', 'sctp']),
});
export type ExposedPort = z.infer<typeof exposedPortSchema>;

const utf8 = new TextEncoder();

/**
 * Whether `container` serializes to at most `containerJsonBytes` of UTF-8. A UTF-16 code unit is at
 * most 3 bytes of UTF-8, so nearly every container is decided by its JSON's length alone; only one
 * near the limit is encoded (each snapshot checks every container: thousands a second at scale).
 */
function withinJsonBytes(container: unknown): boolean {
  const text = JSON.stringify(container);
  if (text.length * 3 <= PROTOCOL_LIMITS.containerJsonBytes) return true;
  if (text.length > PROTOCOL_LIMITS.containerJsonBytes) return false;
  return utf8.encode(text).length <= PROTOCOL_LIMITS.containerJsonBytes;
}

export const containerSchema = z
  .strictObject({
    id: containerIdSchema,
    /** Without Docker's leading "/". */
    name: nameSchema,
    image: imageRefSchema.optional(),
    labels: containerLabelsSchema,
    state: containerStateSchema,
    networks: boundedRecord(networkNameSchema, containerNetworkSchema, PROTOCOL_LIMITS.networksPerContainer),
    exposedPorts: z.array(exposedPortSchema).max(PROTOCOL_LIMITS.portsPerContainer),
  })
  // The bound the master's body limit is computed from (`MAX_AGENT_BODY_BYTES`).
  .refine(withinJsonBytes, {
    message: `at most ${PROTOCOL_LIMITS.containerJsonBytes} bytes of JSON per container (labels, networks and ports together)`,
  });
export type Container = z.infer<typeof containerSchema>;
