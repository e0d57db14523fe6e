/** dockerode rejects with the HTTP status of the Docker API in `statusCode`. */
function dockerStatusCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

export function isNotFound(error: unknown): boolean {
  return dockerStatusCode(error) === 404;
}

/** 409: name already in use, or container already being removed. */
export function isConflict(error: unknown): boolean {
  return dockerStatusCode(error) === 409;
}

/** 304: container already started / already stopped. */
export function isNotModified(error: unknown): boolean {
  return dockerStatusCode(error) === 304;
}
