import type { FleetEventTopic } from '@tunnelfleet/common/admin-api';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useLiveEvents } from './live-events.js';

/** A page that follows live changes also reads again this often: "3 s ago" and offline agents move on. */
const FALLBACK_REFRESH_MS = 30_000;

/**
 * Loads with `load`, and again when `deps` change, on `reload()`, and whenever one of `live`'s
 * topics changed on the master (its event stream). One load at a time: changes that arrive during
 * a load become one more load after it, so a busy fleet cannot queue up requests. Keeps the last
 * good data while a load is in flight or fails.
 */
export function useData<T>(load: () => Promise<T>, deps: unknown[], live: readonly FleetEventTopic[] = []) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const state = useRef({ generation: 0, running: false, again: false });
  const reload = useCallback(async () => {
    const current = state.current;
    if (current.running) {
      current.again = true;
      return;
    }
    current.running = true;
    const mine = ++current.generation;
    try {
      const value = await load();
      if (mine === current.generation) {
        setData(value);
        setError(undefined);
      }
    } catch (failure) {
      if (mine === current.generation) setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      current.running = false;
      if (current.again) {
        current.again = false;
        void reload();
      }
    }
    // biome-ignore lint/correctness/useExhaustiveDependencies: the caller lists what `load` depends on
  }, deps);
  const follows = live.length > 0;
  useEffect(() => {
    void reload();
    if (!follows) return;
    const timer = setInterval(() => void reload(), FALLBACK_REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload, follows]);
  useLiveEvents(live, reload);
  return { data, error, reload };
}
