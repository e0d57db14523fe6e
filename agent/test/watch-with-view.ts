import type { Container, ContainerChange } from '@tunnelfleet/common';
import {
  type ContainerWatcher,
  type ContainerWatcherOptions,
  createContainerWatcher,
  type ResyncReason,
} from '../src/docker/container-watcher.js';

interface WatchedView {
  watcher: ContainerWatcher;
  /** What a consumer knows: the last resync list with every later change applied. */
  view: Map<string, Container>;
  changes: ContainerChange[];
  resyncs: ResyncReason[];
}

/** Test helper: a watcher whose callbacks are recorded the way a reporter would apply them. */
export function watchWithView(options: Omit<ContainerWatcherOptions, 'onChange' | 'onResync'>): WatchedView {
  const view = new Map<string, Container>();
  const changes: ContainerChange[] = [];
  const resyncs: ResyncReason[] = [];
  const watcher = createContainerWatcher({
    ...options,
    onChange: (change) => {
      changes.push(change);
      if (change.action === 'upsert') view.set(change.container.id, change.container);
      else view.delete(change.containerId);
    },
    onResync: (containers, reason) => {
      resyncs.push(reason);
      view.clear();
      for (const container of containers) view.set(container.id, container);
    },
  });
  return { watcher, view, changes, resyncs };
}
