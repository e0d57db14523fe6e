import type { V4PagePaginationArray } from 'cloudflare/pagination';
import { type RetryOptions, withRetries } from './call-budget.js';

/**
 * Reads every item of a paginated list. Unlike the SDK's `for await`, it stops on the last
 * page reported by `result_info` instead of asking for one more (empty) page, which saves a
 * call per list against the budget. Each page read is retried on its own (GETs are safe).
 */
export async function listAll<Item>(
  firstPage: () => Promise<V4PagePaginationArray<Item>>,
  retry: RetryOptions,
): Promise<Item[]> {
  let page = await withRetries(() => firstPage(), retry);
  const items = [...page.result];
  while (hasMore(page)) {
    const current = page;
    page = await withRetries(() => current.getNextPage(), retry);
    items.push(...page.result);
  }
  return items;
}

function hasMore(page: V4PagePaginationArray<unknown>): boolean {
  if (page.result.length === 0) return false;
  // total_pages is sent by the API but missing from the SDK's type.
  const info = page.result_info as { page?: number; per_page?: number; total_pages?: number };
  if (typeof info.total_pages === 'number' && typeof info.page === 'number') {
    return info.page < info.total_pages;
  }
  return typeof info.per_page === 'number' && page.result.length >= info.per_page;
}
