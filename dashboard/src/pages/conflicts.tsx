import type { AdoptionPreview, ConflictView } from '@tunnelfleet/common/admin-api';
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
    'A DNS record Tunnelfleet did not create is in the way; it is left as it is unless an admin adopts it.',
  foreign_access_app: 'An Access application Tunnelfleet did not create covers this hostname.',
  foreign_ingress_rule:
    "An ingress rule Tunnelfleet did not write serves this hostname on the agent's tunnel; it is left as it is unless an admin adopts it.",
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

type Shown = string | number | boolean | null;
const shown = (value: Shown) =>
  value === null ? '—' : typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);

/** The rows of a diff: each field of the object now, and after adoption. */
function diffRows(preview: AdoptionPreview): [string, Shown, Shown][] {
  if (preview.object === 'dns_record') {
    const fields = ['type', 'name', 'content', 'proxied', 'ttl', 'comment'] as const;
    return fields.map((f) => [f, preview.current[f], preview.desired[f]]);
  }
  const fields = ['hostname', 'path', 'service', 'originRequest', 'other'] as const;
  return fields.map((f) => [f, preview.current[f], preview.desired[f]]);
}

const objectName = (preview: AdoptionPreview) =>
  preview.object === 'dns_record'
    ? `Record ${preview.recordId} on ${preview.hostname}`
    : `Ingress rule for ${preview.hostname}${preview.path} on tunnel ${preview.tunnelId}`;

/** The foreign object as Cloudflare holds it beside what adopting it writes, field by field. */
function AdoptionDiff({ preview }: { preview: AdoptionPreview }) {
  return (
    <div className="table-wrap">
      <table className="diff">
        <caption>{objectName(preview)}</caption>
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">At Cloudflare now</th>
            <th scope="col">After adoption</th>
          </tr>
        </thead>
        <tbody>
          {diffRows(preview).map(([field, now, after]) => (
            <tr key={field} className={shown(now) === shown(after) ? undefined : 'changed'}>
              <th scope="row">{field}</th>
              <td>{shown(now)}</td>
              <td>{shown(after)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * Adopts the foreign record or rule in a route's way: the diff is read first (the object as it is
 * now), and the master refuses the adoption if the object changed since (its fingerprint).
 */
function Adopt({ conflict, onDone }: { conflict: ConflictView; onDone: () => void }) {
  const [preview, setPreview] = useState<AdoptionPreview | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [note, setNote] = useState<string | undefined>();
  const what = conflict.kind === 'foreign_dns_record' ? 'record' : 'ingress rule';
  const review = async () => {
    setError(undefined);
    try {
      setPreview((await api.adoption(conflict.id)).adoption);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };
  const run = async () => {
    const seen = preview;
    setPreview(undefined);
    if (!seen) return;
    try {
      const { adopted } = await api.adopt(conflict.id, seen.fingerprint);
      if (adopted.state === 'syncing') setNote('Adopted: the tunnel takes the rule over with its next sync.');
      onDone();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };
  return (
    <>
      <button type="button" onClick={() => void review()}>
        Review adopting the {what} on {conflict.hostname}
        {conflict.path}
      </button>
      {preview ? (
        <ConfirmDialog
          title={`Adopt the ${what} on ${preview.hostname}${preview.path}?`}
          confirmLabel="Adopt"
          onConfirm={() => void run()}
          onCancel={() => setPreview(undefined)}
        >
          <p>
            From then on Tunnelfleet owns this {what}: it is rewritten as below, for route {preview.routeId}{' '}
            of agent {preview.agentId}, and deleted when that route goes. If it changes at Cloudflare before
            you confirm, nothing is written.
          </p>
          <AdoptionDiff preview={preview} />
        </ConfirmDialog>
      ) : null}
      {note ? <p role="status">{note}</p> : null}
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
            {canChange(session) &&
            (conflict.kind === 'foreign_dns_record' || conflict.kind === 'foreign_ingress_rule') &&
            conflict.resolvedAt === null ? (
              <Adopt conflict={conflict} onDone={() => void reload()} />
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
