import { AtollClient } from '../../src/client/client';

// The API token lives in sessionStorage: it survives a reload of the tab, not the tab itself, and
// never appears in a URL. The dashboard talks to the control plane that served it.

const TOKEN_KEY = 'atoll.token';

export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

export function clientFor(token: string): AtollClient {
  return new AtollClient({ server: window.location.origin, token });
}
