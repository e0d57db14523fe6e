import {
  AGENT_ROUTES,
  COMMAND_POLL_MAX_WAIT_SECONDS,
  COMMAND_POLL_WAIT_HEADER,
  type CommandAck,
  type CommandAckResponse,
  commandAckPath,
  commandAckResponseSchema,
  commandAckSchema,
  deadlineSignal,
  errorBodySchema,
  formatIssuePath,
  type HeartbeatRequest,
  type HeartbeatResponse,
  heartbeatRequestSchema,
  heartbeatResponseSchema,
  type NextCommandResponse,
  nextCommandResponseSchema,
  type RegisterRequest,
  type RegisterResponse,
  type Report,
  type ReportResponse,
  registerRequestSchema,
  registerResponseSchema,
  reportResponseSchema,
  reportSchema,
} from '@tunnelfleet/common';
import type { z } from 'zod';
import {
  MasterAuthRejectedError,
  MasterBusyError,
  type MasterClientError,
  MasterForbiddenError,
  MasterRateLimitedError,
  MasterReplyInvalidError,
  MasterRequestError,
  MasterServerError,
  MasterUnreachableError,
} from './errors.js';
import type { MasterLink } from './master-link.js';

interface MasterClientOptions {
  /** Base URL of the master, e.g. `https://tunnelfleet.example.com`. */
  masterUrl: URL | string;
  apiKey: string;
  /** Told about every outcome (health, reconnect detection). */
  link: MasterLink;
  /** Deadline of an ordinary request. */
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
}

export interface NextCommandOptions {
  waitSeconds: number;
  signal?: AbortSignal;
}

export interface NextCommandAnswer extends NextCommandResponse {
  /** The wait the master asks for in the next polls; absent from a master of an earlier version. */
  advisedWaitSeconds?: number;
}

export interface MasterClient {
  register(body: RegisterRequest): Promise<RegisterResponse>;
  heartbeat(body: HeartbeatRequest): Promise<HeartbeatResponse>;
  report(body: Report): Promise<ReportResponse>;
  /** Long-poll; `command: null` when the wait ended with nothing to do. */
  nextCommand(options: NextCommandOptions): Promise<NextCommandAnswer>;
  acknowledge(ack: CommandAck): Promise<CommandAckResponse>;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
/** Added to the long-poll wait so the master, not our timer, ends an idle poll. */
const LONG_POLL_MARGIN_MS = 10_000;

/**
 * Typed client of the agent API. Bodies are checked against the protocol schemas both ways, so a
 * bug here or a master of another version shows up as a clear error naming the field. The key
 * only ever travels in the Authorization header; no message of this module contains it.
 */
export function createMasterClient(options: MasterClientOptions): MasterClient {
  const base = new URL(options.masterUrl);
  const fetchImpl = options.fetch ?? fetch;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const authorization = `Bearer ${options.apiKey}`;

  const call = async <T>(
    method: 'GET' | 'POST',
    path: string,
    replySchema: z.ZodType<T>,
    init: CallOptions = {},
  ): Promise<T> => {
    try {
      const result = await send(method, path, replySchema, init);
      options.link.recordSuccess();
      return result;
    } catch (error) {
      // Our own abort (shutdown) says nothing about the master.
      if (!init.signal?.aborted) options.link.recordFailure(error as MasterClientError);
      throw error;
    }
  };

  const send = async <T>(
    method: 'GET' | 'POST',
    path: string,
    replySchema: z.ZodType<T>,
    init: CallOptions,
  ): Promise<T> => {
    const deadline = deadlineSignal(init.timeoutMs ?? requestTimeoutMs, init.signal);
    const headers: Record<string, string> = { authorization, accept: 'application/json' };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(new URL(path, base), {
        method,
        headers,
        signal: deadline.signal,
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
      text = await response.text();
    } catch (error) {
      throw new MasterUnreachableError(path, error);
    } finally {
      deadline.clear();
    }
    if (!response.ok) throw errorFor(path, response, text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new MasterReplyInvalidError(path, 'not JSON');
    }
    const parsed = replySchema.safeParse(json);
    if (!parsed.success) throw new MasterReplyInvalidError(path, describeIssues(parsed.error));
    init.onHeaders?.(response.headers);
    return parsed.data;
  };

  return {
    register: (body) =>
      call('POST', AGENT_ROUTES.register, registerResponseSchema, {
        body: outbound(registerRequestSchema, body, 'register'),
      }),
    heartbeat: (body) =>
      call('POST', AGENT_ROUTES.heartbeat, heartbeatResponseSchema, {
        body: outbound(heartbeatRequestSchema, body, 'heartbeat'),
      }),
    report: (body) =>
      call('POST', AGENT_ROUTES.reports, reportResponseSchema, {
        body: outbound(reportSchema, body, 'report'),
      }),
    nextCommand: async ({ waitSeconds, signal }) => {
      let advisedWaitSeconds: number | undefined;
      const answer = await call(
        'GET',
        `${AGENT_ROUTES.commandsNext}?waitSeconds=${waitSeconds}`,
        nextCommandResponseSchema,
        {
          timeoutMs: waitSeconds * 1000 + LONG_POLL_MARGIN_MS,
          ...(signal ? { signal } : {}),
          onHeaders: (headers) => {
            advisedWaitSeconds = advisedWait(headers.get(COMMAND_POLL_WAIT_HEADER));
          },
        },
      );
      return advisedWaitSeconds === undefined ? answer : { ...answer, advisedWaitSeconds };
    },
    acknowledge: (ack) =>
      call('POST', commandAckPath(ack.commandId), commandAckResponseSchema, {
        body: outbound(commandAckSchema, ack, 'acknowledgement'),
      }),
  };
}

interface CallOptions {
  body?: unknown;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with the headers of an answer that passed its schema. */
  onHeaders?: (headers: Headers) => void;
}

/**
 * The master's advised poll wait, when it is one the master would accept. Anything else (a proxy's
 * header, a garbled value) is ignored: the agent keeps the wait it has.
 */
function advisedWait(value: string | null): number | undefined {
  if (value === null || !/^\d{1,4}$/.test(value)) return undefined;
  const seconds = Number(value);
  return seconds >= 1 && seconds <= COMMAND_POLL_MAX_WAIT_SECONDS ? seconds : undefined;
}

/** A body we are about to send that breaks the protocol is our bug: fail loudly, do not send it. */
function outbound<T>(schema: z.ZodType<T>, body: T, subject: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success)
    throw new TypeError(`refusing to send an invalid ${subject}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Without a usable Retry-After a 429 or 503 still waits this long. */
const DEFAULT_RETRY_AFTER_MS = 1_000;

function errorFor(path: string, response: Response, text: string): MasterClientError {
  const { status } = response;
  const message = errorMessage(text);
  if (status === 401) return new MasterAuthRejectedError(path);
  if (status === 403) return new MasterForbiddenError(path, message);
  if (status === 429) return new MasterRateLimitedError(path, retryAfterMs(response.headers), message);
  // Admission control: only a 503 that says when to come back is the master shedding load.
  if (status === 503 && response.headers.has('retry-after'))
    return new MasterBusyError(path, retryAfterMs(response.headers), message);
  if (status >= 500) return new MasterServerError(path, status, message);
  return new MasterRequestError(path, status, message);
}

/** `Retry-After` in seconds (what the master sends) or as an HTTP date. */
function retryAfterMs(headers: Headers): number {
  const value = headers.get('retry-after')?.trim() ?? '';
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? DEFAULT_RETRY_AFTER_MS : Math.max(0, date - Date.now());
}

/** The `{ error: { message } }` of the master, or a short excerpt of whatever else answered. */
function errorMessage(text: string): string {
  try {
    const body = errorBodySchema.safeParse(JSON.parse(text));
    if (body.success) return `${body.data.error.code}: ${body.data.error.message}`;
  } catch {
    // not JSON: a proxy's error page, say
  }
  const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return excerpt === '' ? 'empty body' : excerpt;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${formatIssuePath(issue.path) || '(body)'}: ${issue.message}`)
    .join('; ');
}
