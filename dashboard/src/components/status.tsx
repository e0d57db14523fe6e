import type { ReactNode } from 'react';

/** A status word with its colour; the word itself carries the meaning (never colour alone). */
export function Badge({ tone, children }: { tone: 'ok' | 'warn' | 'bad' | 'muted'; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

export function routeTone(status: string): 'ok' | 'warn' | 'bad' | 'muted' {
  if (status === 'active') return 'ok';
  if (status === 'pending_deletion' || status === 'conflict') return 'warn';
  if (status === 'invalid' || status === 'error') return 'bad';
  return 'muted';
}

export function ErrorNote({ error }: { error: string | undefined }) {
  return error ? (
    <p role="alert" className="error">
      {error}
    </p>
  ) : null;
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

/** "3 min ago" for a timestamp, with the exact time on hover. */
export function Ago({ at, now = Date.now() }: { at: string | null; now?: number }) {
  if (at === null) return <span>never</span>;
  const seconds = Math.max(0, Math.round((now - Date.parse(at)) / 1000));
  const text =
    seconds < 60
      ? `${seconds} s ago`
      : seconds < 3600
        ? `${Math.floor(seconds / 60)} min ago`
        : `${Math.floor(seconds / 3600)} h ago`;
  return (
    <time dateTime={at} title={at}>
      {text}
    </time>
  );
}
