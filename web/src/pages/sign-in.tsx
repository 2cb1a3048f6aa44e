import { useState, type FormEvent } from 'react';
import type { TokenView } from '../../../src/core/access';

/** Trades the code in a `#sign-in=CODE` link for a session token, and takes the code out of the address bar first. */
export async function redeemSignInLink(): Promise<string> {
  const code = window.location.hash.slice('#sign-in='.length);
  window.history.replaceState(null, '', `${window.location.pathname}#/overview`);
  const response = await fetch('/v1/sign-in', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
  const body = (await response.json().catch(() => ({}))) as { secret?: string; token?: TokenView; error?: { message?: string } };
  if (!response.ok || body.secret === undefined) throw new Error(body.error?.message ?? `sign-in failed (HTTP ${response.status})`);
  return body.secret;
}

export function SignIn({ onSignedIn, linkError }: { onSignedIn: (token: string) => void; linkError: string | undefined }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(linkError);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const response = await fetch('/v1/whoami', { headers: { authorization: `Bearer ${token.trim()}` } });
      if (!response.ok) {
        const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
        throw new Error(body.error?.message ?? `HTTP ${response.status}`);
      }
      onSignedIn(token.trim());
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="sign-in" id="main">
      <h1>Atoll</h1>
      <p>Sign in with the link <code>npm start</code> or <code>atoll dashboard</code> prints, or paste an API token.</p>
      <form onSubmit={(e) => void submit(e)}>
        <label htmlFor="token">API token</label>
        <input id="token" name="token" type="password" autoComplete="off" spellCheck={false} value={token} onChange={(e) => setToken(e.target.value)} required aria-describedby="token-help" />
        <p id="token-help" className="hint">Kept for this tab only. The local fleet's admin token is in <code>.atoll/admin.token</code>.</p>
        <button type="submit" disabled={busy || token.trim() === ''}>{busy ? 'Signing in…' : 'Sign in'}</button>
        {error && <p className="error" role="alert">{error}</p>}
      </form>
    </main>
  );
}
