import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AtollError } from '../core/errors.js';

// Serves the dashboard (web/, built into dist/web by `npm run build`) at `/`. The page and its
// assets hold no data, so they are open like /healthz; everything they show comes from the API
// with the token the user signs in with. A strict Content-Security-Policy keeps the page from
// loading or sending anything anywhere but this control plane.

/**
 * dist/web, from dist/src/server (the package) or from src/server (tests run from source): the
 * built app is the folder with an assets/ beside its index.html (web/ itself, the source, has none).
 */
const WEB_DIR = [new URL('../../web/', import.meta.url), new URL('../../dist/web/', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(join(dir, 'assets')));
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;
const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

export function registerWebApp(app: FastifyInstance, dir: string | undefined = WEB_DIR): void {
  const index = dir === undefined ? undefined : join(dir, 'index.html');
  const open = { config: { access: 'none' } } as const;
  app.get('/', open, async (_request, reply) => {
    if (index === undefined || !existsSync(index)) throw new AtollError('not_found', 'the dashboard is not built in this install: run `npm run build`');
    // Never cached: a new build's asset names reach the browser at once.
    return send(reply, await readFile(index), 'text/html; charset=utf-8', 'no-store');
  });
  app.get<{ Params: { name: string } }>('/assets/:name', open, async (request, reply) => {
    const { name } = request.params;
    const type = TYPES[extname(name)];
    if (dir === undefined || !ASSET_NAME.test(name) || type === undefined) throw new AtollError('not_found', `no dashboard asset ${JSON.stringify(name)}`);
    let body: Buffer;
    try {
      body = await readFile(join(dir, 'assets', name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new AtollError('not_found', `no dashboard asset ${JSON.stringify(name)}`);
      throw error;
    }
    // Vite puts a content hash in every asset name, so an asset never changes under its name.
    return send(reply, body, type, 'public, max-age=31536000, immutable');
  });
}

function send(reply: FastifyReply, body: Buffer, type: string, cache: string): FastifyReply {
  return reply.headers({ ...SECURITY_HEADERS, 'content-type': type, 'cache-control': cache }).send(body);
}
