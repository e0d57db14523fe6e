import type { ResultInfo } from './envelope.js';
import { apiErrors } from './errors.js';

interface PageLimits {
  defaultPerPage: number;
  maxPerPage: number;
}

function positiveInt(query: URLSearchParams, key: string, fallback: number): number {
  const raw = query.get(key);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw apiErrors.invalidRequest(`${key} must be a positive integer`);
  }
  return value;
}

/** One page of `items` by the `page`/`per_page` query parameters; a page past the end is empty. */
export function paginate<T>(
  items: readonly T[],
  query: URLSearchParams,
  limits: PageLimits,
): { result: T[]; resultInfo: ResultInfo } {
  const page = positiveInt(query, 'page', 1);
  const perPage = Math.min(positiveInt(query, 'per_page', limits.defaultPerPage), limits.maxPerPage);
  const result = items.slice((page - 1) * perPage, page * perPage);
  return {
    result,
    resultInfo: {
      page,
      per_page: perPage,
      count: result.length,
      total_count: items.length,
      total_pages: Math.max(1, Math.ceil(items.length / perPage)),
    },
  };
}
