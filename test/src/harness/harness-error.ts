/** A test prerequisite is missing or broken; the message says how to fix it. */
export class HarnessError extends Error {
  override readonly name = 'HarnessError';
}

/** A condition awaited with `waitFor` did not hold before its deadline. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}
