import {
  type RetainedRouteView,
  ROUTE_GROUPS,
  ROUTE_SORTS,
  ROUTE_STATUSES,
  type RouteGroup,
  type RouteView,
} from '@tunnelfleet/common/admin-api';
import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from '../api.js';
import { Link } from '../components/link.js';
import { useLiveEvents } from '../components/live-events.js';
import { Badge, Empty, ErrorNote, routeTone } from '../components/status.js';
import { VirtualTable } from '../components/virtual-rows.js';
import { navigate, useLocation } from '../router.js';

const PAGE = 100;
const ROW_HEIGHT = 44;

interface Filters {
  status: string;
  zone: string;
  q: string;
  sort: string;
  order: 'asc' | 'desc';
  group: string;
}

function filtersFrom(search: URLSearchParams): Filters {
  return {
    status: search.get('status') ?? '',
    zone: search.get('zone') ?? '',
    q: search.get('q') ?? '',
    sort: search.get('sort') ?? 'hostname',
    order: search.get('order') === 'desc' ? 'desc' : 'asc',
    group: search.get('group') ?? '',
  };
}

/** A line of the grouped table: a group's header, or the route at an index of the whole ordering. */
type Line = { header: RouteGroup } | { route: number; group?: RouteGroup };

/**
 * Where line `index` of a grouped table falls: each group's header comes just before its first
 * route, so group `g`'s header is line `offset + g` (binary search over the groups).
 */
function lineAt(groups: readonly RouteGroup[], index: number): Line {
  if (groups.length === 0) return { route: index };
  let low = 0;
  let high = groups.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (groups[mid]!.offset + mid <= index) low = mid;
    else high = mid - 1;
  }
  const group = groups[low]!;
  const headerLine = group.offset + low;
  return index === headerLine ? { header: group } : { route: index - low - 1, group };
}

/** The group a line of a grouped table belongs to (its header, or one of its routes). */
function groupAt(groups: readonly RouteGroup[], index: number): RouteGroup | undefined {
  const line = lineAt(groups, index);
  return 'header' in line ? line.header : line.group;
}

const routeIndexAt = (groups: readonly RouteGroup[], index: number) => {
  const line = lineAt(groups, index);
  return 'route' in line ? line.route : line.header.offset;
};

/**
 * Every route, paged by the server and virtualised in the browser: the pages in view are fetched
 * as the list scrolls, so 20,000 routes cost a few requests and a few dozen rows of DOM. Filters
 * live in the URL, so a filtered view can be shared or reloaded.
 */
export function RoutesPage() {
  const { search } = useLocation();
  const filters = filtersFrom(search);
  const key = JSON.stringify(filters);
  const [total, setTotal] = useState<number | undefined>();
  const [rows, setRows] = useState<Map<number, RouteView>>(new Map());
  const [retained, setRetained] = useState<RetainedRouteView[]>([]);
  const [groups, setGroups] = useState<RouteGroup[]>([]);
  const groupsRef = useRef<RouteGroup[]>([]);
  const [error, setError] = useState<string | undefined>();
  const requested = useRef(new Set<number>());
  // The filters the table shows now: an answer to a request made for earlier ones is dropped.
  const shownKey = useRef(key);
  shownKey.current = key;
  const [query, setQuery] = useState(filters.q);

  const loadPage = useCallback(
    async (page: number) => {
      if (requested.current.has(page)) return;
      requested.current.add(page);
      const f = JSON.parse(key) as Filters;
      try {
        const answer = await api.routes({
          ...(f.status ? { status: f.status } : {}),
          ...(f.zone ? { zone: f.zone } : {}),
          ...(f.q ? { q: f.q } : {}),
          sort: f.sort,
          order: f.order,
          ...(f.group ? { group: f.group } : {}),
          limit: PAGE,
          offset: page * PAGE,
        });
        if (shownKey.current !== key) return;
        setTotal(answer.total);
        groupsRef.current = answer.groups ?? [];
        setGroups(groupsRef.current);
        if (page === 0) setRetained(answer.retained);
        setRows((previous) => {
          const next = new Map(previous);
          answer.routes.forEach((route, i) => {
            next.set(page * PAGE + i, route);
          });
          return next;
        });
        setError(undefined);
      } catch (failure) {
        if (shownKey.current !== key) return;
        requested.current.delete(page);
        setError(failure instanceof Error ? failure.message : String(failure));
      }
    },
    [key],
  );

  useEffect(() => {
    requested.current = new Set();
    setRows(new Map());
    setTotal(undefined);
    groupsRef.current = [];
    setGroups([]);
    void loadPage(0);
  }, [loadPage]);

  const inView = useRef({ first: 0, last: 0 });
  // The group of the line at the top of the view: its header may have scrolled away.
  const [topLine, setTopLine] = useState(0);
  const topGroup = groups.length > 0 ? groupAt(groups, topLine) : undefined;
  // The table's lines include group headers: the pages to read are those of the routes in view.
  const onRange = useCallback(
    (firstLine: number, lastLine: number) => {
      const first = routeIndexAt(groupsRef.current, firstLine);
      const last = routeIndexAt(groupsRef.current, lastLine);
      inView.current = { first, last };
      for (let page = Math.floor(first / PAGE); page <= Math.floor(last / PAGE); page++) void loadPage(page);
    },
    [loadPage],
  );

  // Live: when routes change on the master, the pages in view are read again, so a route that
  // starts, changes status or goes away shows without a reload.
  const refreshInView = useCallback(() => {
    const { first, last } = inView.current;
    for (let page = Math.floor(first / PAGE); page <= Math.floor(last / PAGE); page++) {
      requested.current.delete(page);
      void loadPage(page);
    }
  }, [loadPage]);
  useLiveEvents(['routes'], refreshInView);

  const setFilter = (change: Partial<Filters>) => {
    const next = { ...filters, ...change };
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(next)) {
      if (value && !(name === 'sort' && value === 'hostname') && !(name === 'order' && value === 'asc')) {
        params.set(name, value);
      }
    }
    const text = params.toString();
    navigate(`/routes${text ? `?${text}` : ''}`);
  };

  return (
    <section>
      <h1>Routes</h1>
      <form
        className="filters"
        aria-label="Filter routes"
        onSubmit={(event) => {
          event.preventDefault();
          setFilter({ q: query.trim() });
        }}
      >
        <label>
          Search hostname or container
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} name="q" />
        </label>
        <label>
          Status
          <select value={filters.status} onChange={(e) => setFilter({ status: e.target.value })}>
            <option value="">any</option>
            {ROUTE_STATUSES.map((status) => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
            <option value="retained">retained</option>
          </select>
        </label>
        <label>
          Zone
          <input
            value={filters.zone}
            onChange={(e) => setFilter({ zone: e.target.value.trim() })}
            placeholder="example.com"
          />
        </label>
        <label>
          Sort by
          <select value={filters.sort} onChange={(e) => setFilter({ sort: e.target.value })}>
            {ROUTE_SORTS.map((sort) => (
              <option key={sort} value={sort}>
                {sort}
              </option>
            ))}
          </select>
        </label>
        <label>
          Order
          <select
            value={filters.order}
            onChange={(e) => setFilter({ order: e.target.value as 'asc' | 'desc' })}
          >
            <option value="asc">ascending</option>
            <option value="desc">descending</option>
          </select>
        </label>
        <label>
          Group by
          <select value={filters.group} onChange={(e) => setFilter({ group: e.target.value })}>
            <option value="">nothing</option>
            {ROUTE_GROUPS.map((group) => (
              <option key={group} value={group}>
                {group}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorNote error={error} />
      <p role="status" data-testid="routes-total">
        {total === undefined ? 'Loading…' : `${total} ${total === 1 ? 'route' : 'routes'}`}
      </p>
      {total === 0 ? (
        <Empty>No route matches. Clear the filters, or start a labelled container.</Empty>
      ) : null}
      {total && topGroup ? (
        <p className="group-in-view" data-testid="group-in-view">
          In view: <strong>{topGroup.label}</strong>{' '}
          <span className="sub">
            ({topGroup.count} {topGroup.count === 1 ? 'route' : 'routes'})
          </span>
        </p>
      ) : null}
      {total ? (
        <VirtualTable
          count={total + groups.length}
          rowHeight={ROW_HEIGHT}
          height={Math.min(600, (total + groups.length) * ROW_HEIGHT)}
          label="Routes"
          headers={['Hostname', 'Status', 'Agent', 'Container', 'Service']}
          onRange={onRange}
          onTop={setTopLine}
          rowClass={(index) => ('header' in lineAt(groups, index) ? 'group-row' : undefined)}
          renderRow={(index) => {
            const line = lineAt(groups, index);
            if ('header' in line) {
              return (
                <th colSpan={5} scope="colgroup" data-testid="route-group">
                  {line.header.label}{' '}
                  <span className="sub">
                    {line.header.count} {line.header.count === 1 ? 'route' : 'routes'}
                  </span>
                </th>
              );
            }
            const route = rows.get(line.route);
            if (!route) return <td colSpan={5}>Loading…</td>;
            return (
              <>
                <td>
                  <Link href={`/routes/${route.id}`}>
                    {route.hostname ?? '(no hostname)'}
                    {route.path}
                  </Link>
                </td>
                <td>
                  <Badge tone={routeTone(route.status)}>{route.status}</Badge>
                </td>
                <td>
                  <Link href={`/agents/${encodeURIComponent(route.agentId)}`}>{route.agentId}</Link>
                </td>
                <td>{route.containerName}</td>
                <td className="mono">{route.service ?? ''}</td>
              </>
            );
          }}
        />
      ) : null}
      <h2>Retained routes</h2>
      {retained.length === 0 ? (
        <Empty>No retained route: every published route has its container.</Empty>
      ) : (
        <ul className="plain">
          {retained.map((route) => (
            <li key={route.id}>
              {route.hostname}
              {route.path} → {route.service} (retained from {route.containerName} on {route.agentId})
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
