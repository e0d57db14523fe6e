/**
 * HTTP paths of the agent API, shared so master and agent cannot drift apart.
 * Every request carries `Authorization: Bearer <agent API key>`.
 *
 * | method | path                       | body                 | response                |
 * |--------|----------------------------|----------------------|-------------------------|
 * | POST   | register                   | RegisterRequest      | RegisterResponse        |
 * | POST   | heartbeat                  | HeartbeatRequest     | HeartbeatResponse       |
 * | POST   | reports                    | Report               | ReportResponse          |
 * | GET    | commandsNext?waitSeconds=N | —                    | NextCommandResponse     |
 * | POST   | commandAck(id)             | CommandAck           | CommandAckResponse      |
 *
 * Errors are `{ error: { code, message } }` (see `errors/`).
 */
const AGENT_API_PREFIX = '/api/v1/agent';

export const AGENT_ROUTES = {
  register: `${AGENT_API_PREFIX}/register`,
  heartbeat: `${AGENT_API_PREFIX}/heartbeat`,
  reports: `${AGENT_API_PREFIX}/reports`,
  commandsNext: `${AGENT_API_PREFIX}/commands/next`,
  /** Express route pattern; build concrete URLs with `commandAckPath`. */
  commandAck: `${AGENT_API_PREFIX}/commands/:id/ack`,
} as const;

export function commandAckPath(commandId: string): string {
  return `${AGENT_API_PREFIX}/commands/${encodeURIComponent(commandId)}/ack`;
}
