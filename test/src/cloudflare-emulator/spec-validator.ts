export interface SpecViolation {
  kind: 'request' | 'response';
  method: string;
  path: string;
  status?: number;
  message: string;
}

export interface SpecValidator {
  validateRequest(method: string, path: string, query: URLSearchParams, body: unknown): SpecViolation[];
  validateResponse(
    method: string,
    path: string,
    status: number,
    body: unknown,
    headers: Record<string, string>,
  ): SpecViolation[];
}

export async function loadSpecValidator(): Promise<SpecValidator> {
  throw new Error('spec validation is not available yet');
}
