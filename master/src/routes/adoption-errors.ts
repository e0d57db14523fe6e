import { TunnelfleetError } from '@tunnelfleet/common';

/** Why a foreign object may not be adopted: `reason` is stable for clients to branch on. */
export type AdoptionRefusal =
  | 'not_adoptable_kind'
  | 'not_open'
  | 'route_not_accepted'
  | 'access_pending'
  | 'settle_record_first'
  | 'nothing_foreign'
  | 'not_one_object';

/** The conflict cannot be settled by adopting its foreign object (now, or at all). */
export class AdoptionRefusedError extends TunnelfleetError {
  constructor(
    readonly reason: AdoptionRefusal,
    message: string,
  ) {
    super('adoption_refused', message, { httpStatus: 409, details: { reason } });
  }
}

/** The foreign object changed since its diff was shown: the operator must look again. */
export class AdoptionStaleError extends TunnelfleetError {
  constructor(hostname: string) {
    super(
      'adoption_stale',
      `the object on ${hostname} changed since its diff was shown: nothing was adopted; look at the new diff`,
      { httpStatus: 409 },
    );
  }
}
