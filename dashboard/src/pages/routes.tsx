import {
  type RetainedRouteView,
  ROUTE_SORTS,
  ROUTE_STATUSES,
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
}

function filtersFrom(search: URLSearchParams): Filters {
  return {
    status: search.get('status') ?? '',
    zone: search.get('zone') ?? '',
    q: search.get('q') ?? '',
    sort: search.get('sort') ?? 'hostname',
    order: search.get('order') === 'desc' ? 'desc' : 'asc',
  };
}

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
  const [error, setError] = useState<string | undefined>();
  const requested = useRef(new Set<number>());
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
          limit: PAGE,
          offset: page * PAGE,
        });
        setTotal(answer.total);
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
    void loadPage(0);
  }, [loadPage]);

  const inView = useRef({ first: 0, last: 0 });
  const onRange = useCallback(
    (first: number, last: number) => {
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
        <button type="submit">Search</button>
      </form>
      <ErrorNote error={error} />
      <p role="status" data-testid="routes-total">
        {total === undefined ? 'Loading…' : `${total} ${total === 1 ? 'route' : 'routes'}`}
      </p>
      {total === 0 ? (
        <Empty>No route matches. Clear the filters, or start a labelled container.</Empty>
      ) : null}
      {total ? (
        <VirtualTable
          count={total}
          rowHeight={ROW_HEIGHT}
          height={Math.min(600, total * ROW_HEIGHT)}
          label="Routes"
          headers={['Hostname', 'Status', 'Agent', 'Container', 'Service']}
          onRange={onRange}
          renderRow={(index) => {
            const route = rows.get(index);
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
