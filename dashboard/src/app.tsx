import type { SessionView } from '@tunnelfleet/common/admin-api';
import { useEffect, useState } from 'react';
import { api, useCsrfToken, whenSignedOut } from './api.js';
import { Link } from './components/link.js';
import { closeLiveEvents } from './components/live-events.js';
import { AccessPage } from './pages/access.js';
import { AgentDetailPage } from './pages/agent-detail.js';
import { AgentsPage } from './pages/agents.js';
import { AuditPage } from './pages/audit.js';
import { ConflictsPage } from './pages/conflicts.js';
import { LoginPage } from './pages/login.js';
import { OverviewPage } from './pages/overview.js';
import { PlaygroundPage } from './pages/playground.js';
import { RouteDetailPage } from './pages/route-detail.js';
import { RoutesPage } from './pages/routes.js';
import { ViewerTokensPage } from './pages/viewer-tokens.js';
import { navigate, useLocation } from './router.js';
import { SessionContext } from './session.js';

const NAV: [string, string][] = [
  ['/', 'Overview'],
  ['/agents', 'Agents'],
  ['/routes', 'Routes'],
  ['/conflicts', 'Conflicts'],
  ['/access', 'Access'],
  ['/audit', 'Audit log'],
  ['/playground', 'Labels playground'],
];

function Page({ path }: { path: string }) {
  const agent = /^\/agents\/([^/]+)$/.exec(path);
  if (agent) return <AgentDetailPage id={decodeURIComponent(agent[1]!)} />;
  const route = /^\/routes\/(\d+)$/.exec(path);
  if (route) return <RouteDetailPage id={Number(route[1])} />;
  switch (path) {
    case '/':
      return <OverviewPage />;
    case '/agents':
      return <AgentsPage />;
    case '/routes':
      return <RoutesPage />;
    case '/conflicts':
      return <ConflictsPage />;
    case '/access':
      return <AccessPage />;
    case '/audit':
      return <AuditPage />;
    case '/playground':
      return <PlaygroundPage />;
    case '/viewer-tokens':
      return <ViewerTokensPage />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            No page at {path}. <Link href="/">Go to the overview</Link>.
          </p>
        </section>
      );
  }
}

export function App() {
  const { path } = useLocation();
  const [session, setSession] = useState<SessionView | null | undefined>(undefined);

  useEffect(() => {
    whenSignedOut(() => {
      closeLiveEvents();
      setSession(null);
    });
    api.session().then(
      ({ session }) => setSession(session),
      () => setSession(null),
    );
  }, []);
  useCsrfToken(session?.csrfToken);

  if (session === undefined) return <p className="loading">Loading…</p>;
  if (session === null) return <LoginPage onSignedIn={setSession} />;

  const signOut = async () => {
    closeLiveEvents();
    await api.signOut().catch(() => undefined);
    setSession(null);
    navigate('/');
  };
  const current = (href: string) => (href === '/' ? path === '/' : path.startsWith(href));
  return (
    <SessionContext.Provider value={session}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <strong className="brand">Tunnelfleet</strong>
        <nav aria-label="Main">
          <ul>
            {NAV.map(([href, label]) => (
              <li key={href}>
                <Link href={href} aria-current={current(href) ? 'page' : undefined}>
                  {label}
                </Link>
              </li>
            ))}
            {session.role === 'admin' ? (
              <li>
                <Link href="/viewer-tokens" aria-current={current('/viewer-tokens') ? 'page' : undefined}>
                  Viewer tokens
                </Link>
              </li>
            ) : null}
          </ul>
        </nav>
        <div className="who">
          <span>
            Signed in as <strong>{session.name}</strong> (
            {session.role === 'admin' ? 'admin' : 'read-only viewer'})
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <Page path={path} />
      </main>
    </SessionContext.Provider>
  );
}
