import { describe, expect, it } from 'vitest';
import { MasterRequestError } from '../master-client/errors.js';
import { MasterBusyError, MasterServerError, MasterUnreachableError } from '../master-client/index.js';
import { createPollCutDetector } from './poll-cut-detector.js';

const PATH = '/api/v1/agent/commands/next';
const gatewayTimeout = () => new MasterServerError(PATH, 504, '<html>504 Gateway Time-out</html>');
const dropped = () => new MasterUnreachableError(PATH, new Error('other side closed'));

describe('poll cut detector', () => {
  it("finds nginx's 60 s read timeout under polls of 110 s after two cuts, and polls for less", () => {
    const cuts = createPollCutDetector();
    expect(cuts.failed(60_040, 110, gatewayTimeout())).toBeUndefined();
    expect(cuts.failed(60_010, 110, gatewayTimeout())).toEqual({ afterMs: 60_010, waitSeconds: 45 });
  });

  it('takes dropped connections at the same time as a cut too', () => {
    const cuts = createPollCutDetector();
    cuts.failed(100_300, 110, dropped());
    expect(cuts.failed(100_100, 110, dropped())).toEqual({ afterMs: 100_100, waitSeconds: 75 });
  });

  it('takes one early end for chance: an answered poll between two is no cut', () => {
    const cuts = createPollCutDetector();
    cuts.failed(60_000, 110, gatewayTimeout());
    cuts.answered();
    expect(cuts.failed(60_000, 110, gatewayTimeout())).toBeUndefined();
  });

  it('needs the two ends at about the same time', () => {
    const cuts = createPollCutDetector();
    cuts.failed(30_000, 110, dropped());
    expect(cuts.failed(60_000, 110, dropped())).toBeUndefined();
    // The second starts a new pair.
    expect(cuts.failed(61_500, 110, dropped())).toEqual({ afterMs: 60_000, waitSeconds: 45 });
  });

  it.each([
    ['refused at once (master down)', 40, dropped()],
    ['ended with its wait (the master answered late)', 109_500, gatewayTimeout()],
    ['refused by the master (400)', 60_000, new MasterRequestError(PATH, 400, 'bad query')],
    ['shed by admission control (503 with Retry-After)', 60_000, new MasterBusyError(PATH, 5_000, 'busy')],
  ])('is no cut when a poll is %s', (_case, elapsedMs, error) => {
    const cuts = createPollCutDetector();
    expect(cuts.failed(elapsedMs, 110, error)).toBeUndefined();
    expect(cuts.failed(elapsedMs, 110, error)).toBeUndefined();
  });

  it('never advises a wait under a second', () => {
    const cuts = createPollCutDetector();
    cuts.failed(1_100, 5, gatewayTimeout());
    expect(cuts.failed(1_050, 5, gatewayTimeout())).toEqual({ afterMs: 1_050, waitSeconds: 1 });
  });
});
