import { useEffect, useState } from 'react';

// Hash routes (#/nodes, #/jobs/job-1): the control plane serves one page at `/`, and a reload or a
// shared link opens the same view.

export interface Route {
  readonly page: string;
  readonly params: readonly string[];
}

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter((p) => p !== '').map(decodeURIComponent);
  return { page: parts[0] ?? 'overview', params: parts.slice(1) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function href(page: string, ...params: string[]): string {
  return `#/${[page, ...params].map(encodeURIComponent).join('/')}`;
}
