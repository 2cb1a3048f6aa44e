import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AtollClient } from '../client/client.js';
import { fetchTrusting } from '../client/tls-fetch.js';
import { AtollError } from '../core/errors.js';

export const DEFAULT_DATA_DIR = '.atoll';
export const SERVER_URL_FILE = 'server.url';
export const CA_FILE = 'ca.crt';

export interface ConnectionFlags {
  readonly server?: string;
  readonly token?: string;
  readonly ca?: string;
}

export interface Connection {
  readonly server: string;
  readonly token: string;
  /** PEM of the CA to trust for an https server; undefined for http (an --insecure server). */
  readonly ca: string | undefined;
}

/** Server, token and CA from flags, then ATOLL_SERVER/ATOLL_TOKEN/ATOLL_CA, then the files of a local `./.atoll/`. */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env, dataDir = DEFAULT_DATA_DIR): Connection {
  const dir = resolve(dataDir);
  const fromFile = (name: string): string | undefined => {
    const file = join(dir, name);
    return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
  };
  // An empty variable counts as unset, as in most shells' `${VAR:-default}`.
  const server = flags.server ?? (env.ATOLL_SERVER || undefined) ?? fromFile(SERVER_URL_FILE) ?? 'https://127.0.0.1:7700';
  const token = flags.token ?? (env.ATOLL_TOKEN || undefined) ?? fromFile('admin.token');
  if (!token) {
    throw new AtollError(
      'unauthorized',
      `no API token: pass --token, set ATOLL_TOKEN, or run from the directory holding ${DEFAULT_DATA_DIR}/admin.token (created by \`atoll server\` or \`npm start\`)`,
    );
  }
  if (!server.startsWith('https:')) return { server, token, ca: undefined };
  const caFile = flags.ca ?? (env.ATOLL_CA || undefined);
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new AtollError('invalid_request', `--ca: cannot read ${caFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  } else {
    ca = fromFile(CA_FILE);
  }
  if (ca === undefined) {
    throw new AtollError('unauthorized', `no CA to check ${server} against: pass --ca <server-data-dir>/ca.crt, set ATOLL_CA, or run from the directory holding ${DEFAULT_DATA_DIR}/ca.crt`);
  }
  return { server, token, ca };
}

export function clientFrom(flags: ConnectionFlags): AtollClient {
  const { server, token, ca } = resolveConnection(flags);
  // Trusts only the cluster CA: a server with any other certificate (even a publicly valid one) is refused.
  return new AtollClient({ server, token, ...(ca === undefined ? {} : { fetch: fetchTrusting({ ca }) }) });
}
