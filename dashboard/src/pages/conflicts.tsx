import type { ConflictView } from '@tunnelfleet/common/admin-api';
import { useState } from 'react';
import { api } from '../api.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { Link } from '../components/link.js';
import { Ago, Badge, Empty, ErrorNote } from '../components/status.js';
import { useData } from '../components/use-data.js';
import { canChange, useSession } from '../session.js';

const KIND_EXPLAINED = {
  hostname_claimed: 'Another route holds this hostname (the first claim wins); this one waits.',
  foreign_dns_record:
    'A DNS record Tunnelfleet did not create is in the way; it is never changed or deleted.',
  foreign_access_app: 'An Access application Tunnelfleet did not create covers this hostname.',
  outside_allowlist: "The agent's key does not allow this hostname.",
} as const;

/** Gives the hostname to the route that waits, after a confirmation that says who loses it. */
function HandOver({ conflict, onDone }: { conflict: ConflictView; onDone: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const run = async () => {
    setConfirming(false);
    try {
      await api.handOver(conflict.id);
      onDone();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };
  return (
    <>
      <button type="button" onClick={() => setConfirming(true)}>
        Hand {conflict.hostname} over to route {conflict.routeId}
      </button>
      {confirming ? (
        <ConfirmDialog
          title={`Hand ${conflict.hostname} over?`}
          confirmLabel="Hand over"
          onConfirm={run}
          onCancel={() => setConfirming(false)}
        >
          <p>
            Route {conflict.routeId} becomes the holder of {conflict.hostname}: its rule and record are
            published, and the route that holds it now
            {conflict.holderRouteId !== null ? ` (route ${conflict.holderRouteId})` : ''} stops being
            published and waits in its turn.
          </p>
        </ConfirmDialog>
      ) : null}
      <ErrorNote error={error} />
    </>
  );
}

export function ConflictsPage() {
  const session = useSession();
  const [includeResolved, setIncludeResolved] = useState(false);
  const { data, error, reload } = useData(
    () => api.conflicts(includeResolved),
    [includeResolved],
    ['routes'],
  );
  const conflicts = data?.conflicts ?? [];
  return (
    <section>
      <h1>Conflicts</h1>
      <label>
        <input
          type="checkbox"
          checked={includeResolved}
          onChange={(e) => setIncludeResolved(e.target.checked)}
        />{' '}
        Show resolved ones too
      </label>
      <ErrorNote error={error} />
      {data && conflicts.length === 0 ? <Empty>No open conflict: every hostname has one owner.</Empty> : null}
      <ul className="plain cards-list">
        {conflicts.map((conflict) => (
          <li key={conflict.id} className="card">
            <h2>
              {conflict.hostname}
              {conflict.path}{' '}
              {conflict.resolvedAt ? <Badge tone="muted">resolved</Badge> : <Badge tone="warn">open</Badge>}
            </h2>
            <p>{KIND_EXPLAINED[conflict.kind]}</p>
            <p>{conflict.message}</p>
            <p>
              {conflict.routeId !== null ? (
                <>
                  Waiting: <Link href={`/routes/${conflict.routeId}`}>route {conflict.routeId}</Link>.{' '}
                </>
              ) : null}
              {conflict.holderRouteId !== null ? (
                <>
                  Holder:{' '}
                  <Link href={`/routes/${conflict.holderRouteId}`}>route {conflict.holderRouteId}</Link>.{' '}
                </>
              ) : null}
              Detected <Ago at={conflict.detectedAt} />.
            </p>
            {canChange(session) && conflict.kind === 'hostname_claimed' && conflict.resolvedAt === null ? (
              <HandOver conflict={conflict} onDone={() => void reload()} />
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
