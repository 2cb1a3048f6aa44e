import { useCallback, useEffect, useMemo, useState } from 'react';
import type { AtollClient } from '../../src/client/client';
import type { TokenView } from '../../src/core/access';
import { LiveProvider, useLive } from './live';
import { DataPage } from './pages/data';
import { JobPage } from './pages/job';
import { JobsPage } from './pages/jobs';
import { NodesPage } from './pages/nodes';
import { OverviewPage } from './pages/overview';
import { PoliciesPage } from './pages/policies';
import { SignIn, redeemSignInLink } from './pages/sign-in';
import { SpendPage } from './pages/spend';
import { href, useRoute } from './router';
import { clientFor, forgetToken, savedToken, saveToken } from './session';
import { ThemeToggle } from './theme';

const PAGES = [
  ['overview', 'Overview'],
  ['nodes', 'Nodes'],
  ['jobs', 'Jobs'],
  ['data', 'Data'],
  ['spend', 'Spend'],
  ['policies', 'Policies'],
] as const;

export function App() {
  const [token, setToken] = useState<string | null>(() => savedToken());
  const [linkState, setLinkState] = useState<'none' | 'redeeming' | string>(() => (window.location.hash.startsWith('#sign-in=') ? 'redeeming' : 'none'));

  useEffect(() => {
    if (linkState !== 'redeeming') return;
    redeemSignInLink().then(
      (secret) => {
        saveToken(secret);
        setToken(secret);
        setLinkState('none');
      },
      (error: unknown) => setLinkState(error instanceof Error ? error.message : String(error)),
    );
  }, [linkState]);

  const signIn = useCallback((secret: string) => {
    saveToken(secret);
    setToken(secret);
  }, []);
  const signOut = useCallback(() => {
    forgetToken();
    setToken(null);
  }, []);

  if (linkState === 'redeeming') return <p className="centered" role="status">Signing you in…</p>;
  if (token === null) return <SignIn onSignedIn={signIn} linkError={linkState === 'none' ? undefined : linkState} />;
  return <Shell token={token} onSignOut={signOut} />;
}

function Shell({ token, onSignOut }: { token: string; onSignOut: () => void }) {
  const client = useMemo(() => clientFor(token), [token]);
  const [me, setMe] = useState<TokenView | null>(null);
  useEffect(() => {
    client.whoami().then(setMe, (error: unknown) => {
      if ((error as { status?: number }).status === 401) onSignOut();
    });
  }, [client, onSignOut]);
  return (
    <LiveProvider client={client} onUnauthorized={onSignOut}>
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="top-bar">
        <span className="brand">Atoll</span>
        <Nav />
        <span className="top-actions">
          <LiveBadge />
          {me && <span className="whoami" title={me.namespaces === null ? 'every namespace' : me.namespaces.join(', ')}>{me.role}{me.namespaces === null ? '' : ` · ${me.namespaces.join(', ')}`}</span>}
          <ThemeToggle />
          <button type="button" onClick={onSignOut}>Sign out</button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Page client={client} me={me} />
      </main>
    </LiveProvider>
  );
}

function Nav() {
  const { page } = useRoute();
  const current = page === 'job' ? 'jobs' : page;
  return (
    <nav aria-label="Pages">
      <ul>
        {PAGES.map(([id, label]) => (
          <li key={id}>
            <a href={href(id)} aria-current={current === id ? 'page' : undefined}>{label}</a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function LiveBadge() {
  const { status } = useLive();
  const text = status === 'live' ? 'Live' : status === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  return <span className={`live-badge live-${status}`} role="status" aria-live="polite" data-testid="live-status">{text}</span>;
}

export interface PageProps {
  readonly client: AtollClient;
  readonly me: TokenView | null;
}

function Page(props: PageProps) {
  const { page, params } = useRoute();
  useEffect(() => {
    document.title = `${PAGES.find(([id]) => id === page)?.[1] ?? 'Atoll'} · Atoll`;
  }, [page]);
  switch (page) {
    case 'overview': return <OverviewPage {...props} />;
    case 'nodes': return <NodesPage {...props} />;
    case 'jobs': return <JobsPage {...props} />;
    case 'job': return <JobPage {...props} jobId={params[0] ?? ''} taskId={params[1]} />;
    case 'data': return <DataPage {...props} />;
    case 'spend': return <SpendPage {...props} />;
    case 'policies': return <PoliciesPage {...props} />;
    default: return <p>No page {JSON.stringify(page)}. <a href={href('overview')}>Go to the overview</a>.</p>;
  }
}
