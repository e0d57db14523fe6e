import type { ErrorItem } from './errors.js';

/** `result_info` of a paginated list, as the live API sends it. */
export interface ResultInfo {
  page: number;
  per_page: number;
  count: number;
  total_count: number;
  total_pages: number;
}

interface Envelope {
  success: boolean;
  errors: ErrorItem[];
  messages: ErrorItem[];
  result: unknown;
  result_info?: ResultInfo;
}

export function successEnvelope(result: unknown, resultInfo?: ResultInfo): Envelope {
  return resultInfo
    ? { success: true, errors: [], messages: [], result, result_info: resultInfo }
    : { success: true, errors: [], messages: [], result };
}

export function errorEnvelope(errors: ErrorItem[]): Envelope {
  return { success: false, errors, messages: [], result: null };
}
