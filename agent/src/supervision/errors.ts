import { TunnelfleetError } from '@tunnelfleet/common';

/** A container holds the supervised container's name but does not carry this agent's labels. */
export class ContainerNameTakenError extends TunnelfleetError {
  constructor(name: string) {
    super(
      'container_name_taken',
      `a container named ${name} exists but is not managed by this agent; remove or rename it`,
      { details: { name }, httpStatus: 409 },
    );
  }
}

/** An operation reached a supervisor after its `stop`: a new one runs the container now. */
export class SupervisorStoppedError extends TunnelfleetError {
  constructor(what: string) {
    super('supervisor_stopped', `the ${what} supervisor is stopped`, { details: { what }, httpStatus: 503 });
  }
}
