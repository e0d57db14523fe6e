import type { SessionView } from '@tunnelfleet/common/admin-api';
import { type FormEvent, useState } from 'react';
import { ApiError, api } from '../api.js';

/** Sign in with the admin token or a viewer token; the token goes to the master once, never to storage. */
export function LoginPage({ onSignedIn }: { onSignedIn: (session: SessionView) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      const { session } = await api.signIn(token.trim());
      setToken('');
      onSignedIn(session);
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.status === 401
          ? 'That token was not accepted. Use the admin token or a viewer token.'
          : failure instanceof Error
            ? failure.message
            : String(failure),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" className="login">
      <h1>Tunnelfleet</h1>
      <form onSubmit={submit} aria-describedby="login-help">
        <label htmlFor="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          required
          value={token}
          onChange={(event) => setToken(event.target.value)}
        />
        <p id="login-help" className="help">
          The admin token (<code>tfa_…</code>) can change the fleet; a viewer token (<code>tfv_…</code>) can
          only look.
        </p>
        {error ? (
          <p role="alert" className="error">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
      </form>
    </main>
  );
}
