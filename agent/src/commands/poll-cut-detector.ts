import { MasterServerError, MasterUnreachableError } from '../master-client/index.js';

/** Polls that fail sooner than this were refused, not cut (master down, connection refused). */
const MIN_CUT_MS = 1_000;
/** A poll that fails within this of its wait ran its course: not a cut. */
const WAIT_MARGIN_MS = 1_000;
/** Two cuts this close together (or within 10%) are the same timeout. */
const SAME_CUT_TOLERANCE_MS = 1_000;
/** The wait once a cut is found: this share of the time the polls lasted. */
const CUT_SHARE = 0.75;

export interface PollCut {
  /** How long the cut polls lasted. */
  afterMs: number;
  /** The wait to use from now on, in seconds: under the cut. */
  waitSeconds: number;
}

export interface PollCutDetector {
  /**
   * A poll of `waitSeconds` that failed after `elapsedMs`. Returns the cut once two polls in a row
   * ended the same way: a gateway error or a dropped connection, at about the same time, short of
   * their wait.
   */
  failed(elapsedMs: number, waitSeconds: number, error: unknown): PollCut | undefined;
  /** A poll the master answered: a single early end before it was chance. */
  answered(): void;
}

/**
 * A proxy between the agent and the master whose read timeout is under the master's poll wait
 * (`COMMAND_POLL_WAIT_SECONDS`; nginx's default `proxy_read_timeout` is 60 s) ends every idle
 * poll with a 502/504 or a dropped connection. Commands still arrive, but every poll then counts as
 * a failure of the link and is followed by a back-off. Two such ends in a row at the same time
 * are the proxy's timeout, not chance (a master restart or a network blip ends one poll).
 */
export function createPollCutDetector(): PollCutDetector {
  let lastCutMs: number | undefined;
  return {
    failed(elapsedMs, waitSeconds, error) {
      const cutLike =
        (error instanceof MasterServerError || error instanceof MasterUnreachableError) &&
        elapsedMs >= MIN_CUT_MS &&
        elapsedMs <= waitSeconds * 1000 - WAIT_MARGIN_MS;
      if (!cutLike) {
        lastCutMs = undefined;
        return undefined;
      }
      const previous = lastCutMs;
      lastCutMs = elapsedMs;
      if (
        previous === undefined ||
        Math.abs(previous - elapsedMs) > Math.max(SAME_CUT_TOLERANCE_MS, 0.1 * previous)
      )
        return undefined;
      lastCutMs = undefined;
      const afterMs = Math.min(previous, elapsedMs);
      return { afterMs, waitSeconds: Math.max(1, Math.floor((afterMs / 1000) * CUT_SHARE)) };
    },
    answered() {
      lastCutMs = undefined;
    },
  };
}
