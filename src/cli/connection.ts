import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AtollClient } from '../client/client.js';
import { AtollError } from '../core/errors.js';

export const DEFAULT_DATA_DIR = '.atoll';
export const SERVER_URL_FILE = 'server.url';

export interface ConnectionFlags {
  readonly server?: string;
  readonly token?: string;
}

/** Server and token from flags, then ATOLL_SERVER/ATOLL_TOKEN, then the files of a local `./.atoll/`. */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env, dataDir = DEFAULT_DATA_DIR): { server: string; token: string } {
  const dir = resolve(dataDir);
  const fromFile = (name: string): string | undefined => {
    const file = join(dir, name);
    return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
  };
  // An empty variable counts as unset, as in most shells' `${VAR:-default}`.
  const server = flags.server ?? (env.ATOLL_SERVER || undefined) ?? fromFile(SERVER_URL_FILE) ?? 'http://127.0.0.1:7700';
  const token = flags.token ?? (env.ATOLL_TOKEN || undefined) ?? fromFile('admin.token');
  if (!token) {
    throw new AtollError(
      'unauthorized',
      `no API token: pass --token, set ATOLL_TOKEN, or run from the directory holding ${DEFAULT_DATA_DIR}/admin.token (created by \`atoll server\` or \`npm start\`)`,
    );
  }
  return { server, token };
}

export function clientFrom(flags: ConnectionFlags): AtollClient {
  return new AtollClient(resolveConnection(flags));
}
