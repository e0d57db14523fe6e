import { useEffect, useState } from 'react';

/**
 * The app's pages are real paths (`/agents/ag_1`): the master answers every non-API path with the
 * app, so a reload or a shared link opens the same page. History API only, no router library.
 */
const listeners = new Set<() => void>();
window.addEventListener('popstate', () => {
  for (const listener of listeners) listener();
});

export function navigate(to: string): void {
  if (to === `${location.pathname}${location.search}`) return;
  history.pushState(null, '', to);
  for (const listener of listeners) listener();
}

/** The current path and query, re-rendered on navigation. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }, []);
  return { path: location.pathname, search: new URLSearchParams(location.search) };
}
