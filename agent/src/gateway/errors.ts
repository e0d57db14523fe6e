import { TunnelfleetError } from '@tunnelfleet/common';

/** A push whose version is not above the table served: a late or replayed push from the agent. */
export class StaleConfigVersionError extends TunnelfleetError {
  constructor(offered: number, current: number) {
    super(
      'stale_config_version',
      `routing table version ${offered} is not newer than the one served (${current})`,
      { httpStatus: 409, details: { offered, current } },
    );
  }
}

/** The gateway's stored table cannot be read back (corrupt, or written by an incompatible release). */
export class StoredTableUnreadableError extends TunnelfleetError {
  constructor(path: string, cause: unknown) {
    super('stored_table_unreadable', `cannot read the stored routing table ${path}`, { cause });
  }
}
