import type { Command } from '@tunnelfleet/common';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** What the master asks for: the gateway adds id, version and time. */
export type CommandRequest = DistributiveOmit<Command, 'id' | 'version' | 'issuedAt' | 'lease'>;

/** Stored as the BullMQ job's data; the job id is the command id. */
export type CommandJobData = DistributiveOmit<Command, 'id' | 'lease'>;
