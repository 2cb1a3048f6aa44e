import { Agent, fetch as undiciFetch } from 'undici';

// Node's global fetch trusts only the public roots and cannot present a client certificate; an
// undici Agent can do both. Node-only: the browser dashboard is served from the control plane's
// own origin and uses the browser's fetch, so src/client itself never imports this file.

export interface TlsTrust {
  /** PEM of the CA the server's certificate must chain to. */
  readonly ca: string;
  /** A client certificate and its key (an agent's node certificate), for mutual TLS. */
  readonly cert?: string;
  readonly key?: string;
}

/** A fetch that trusts only `trust.ca` (and presents `cert`/`key` when given). */
export function fetchTrusting(trust: TlsTrust): typeof fetch {
  const dispatcher = new Agent({ connect: { ca: trust.ca, ...(trust.cert ? { cert: trust.cert } : {}), ...(trust.key ? { key: trust.key } : {}) } });
  return ((input: string | URL | Request, init?: RequestInit) =>
    undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
}

/** A fetch that accepts any server certificate: used once, to fetch the CA whose fingerprint is then checked. */
export function fetchUnverified(): typeof fetch {
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  return ((input: string | URL | Request, init?: RequestInit) =>
    undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
}
