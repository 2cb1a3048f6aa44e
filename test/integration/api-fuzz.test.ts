import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { tempDir, trustGlobally } from '../harness/processes.js';
import { hostileJsonTexts, hostileValue, validJobSpec } from '../../src/core/testing/hostile-values.js';

// Property: whatever arrives on any route (generated paths, query strings, headers and bodies),
// with a valid admin token, the API answers 2xx or 4xx with {error:{code,message}}, never 5xx and
// never hangs, and a refused request changes nothing an API client can see.

// FUZZ_RUNS=5000 for a longer hunt; the default keeps the suite quick.
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 250);

interface Attempt {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: string | Uint8Array | undefined;
}

describe('API under generated hostile requests', () => {
  let server: RunningServer;
  let admin: string;
  const known = { jobs: [] as string[], policies: ['fuzz-policy'], tasks: [] as string[] };

  const call = async (method: string, path: string, init: { contentType?: string; body?: string | Uint8Array } = {}) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(init.contentType === undefined ? {} : { 'content-type': init.contentType }) },
      ...(init.body === undefined ? {} : { body: init.body }),
      // A hang is a failure: no route may keep a plain request open this long.
      signal: AbortSignal.timeout(15_000),
    });
    return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
  };

  /** What a client can see of the cluster's state; a refused request must leave it as it was. */
  const snapshot = async () => {
    const parts = await Promise.all(['/v1/jobs?limit=10000', '/v1/nodes', '/v1/policies', '/v1/events?limit=10000', '/v1/tokens', '/v1/pricing', '/v1/datasets'].map(async (path) => {
      const { status, text } = await call('GET', path);
      expect(status, `GET ${path}`).toBe(200);
      if (!path.startsWith('/v1/events')) return text;
      // A refused join is recorded as an event on purpose (who tried to join with what); that is the refusal's record, not a change.
      const { items } = JSON.parse(text) as { items: { type: string }[] };
      return JSON.stringify(items.filter((e) => e.type !== 'node.join_refused'));
    }));
    return parts.join('\n');
  };

  beforeAll(async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, dataDir: tempDir('api-fuzz'), logLevel: 'silent' });
    trustGlobally(readFileSync(server.caFile, 'utf8'));
    admin = readFileSync(server.tokens.adminTokenFile, 'utf8').trim();
    const job = await call('POST', '/v1/jobs', { contentType: 'application/json', body: JSON.stringify(validJobSpec) });
    expect(job.status).toBe(201);
    const id = (JSON.parse(job.text) as { id: string }).id;
    known.jobs.push(id);
    known.tasks.push(`${id}.0`);
    const policy = await call('PUT', '/v1/policies/fuzz-policy', { contentType: 'application/json', body: JSON.stringify({ name: 'fuzz-policy', denyJurisdictions: ['KP'] }) });
    expect(policy.status).toBeLessThan(300);
  });

  afterAll(async () => {
    await server?.close();
  });

  const segment = () =>
    fc.oneof(
      fc.constantFrom(...known.jobs, ...known.tasks, ...known.policies, 'x-1', 'default', '..', '.', '%00', '%', '%zz', '%E0%A4%A', '%ff%fe', 'a'.repeat(300)),
      fc.string({ maxLength: 40 }).map(encodeURIComponent),
      fc.string({ unit: 'binary', maxLength: 40 }).map(encodeURIComponent),
    );

  const queryValue = fc.oneof(
    fc.constantFrom('1', '0', '-0', '-1', '1e400', 'NaN', 'Infinity', '9007199254740993', '0x10', 'true', 'false', '', '%', 'default', 'nope'),
    fc.string({ maxLength: 20 }),
  );
  // `follow` is left out: it asks for a live stream, which is meant to stay open.
  const queryKey = fc.oneof(fc.constantFrom('limit', 'offset', 'namespace', 'state', 'job', 'after', 'since', 'partition', 'node', 'group', 'objective', '__proto__', 'constructor'), fc.string({ maxLength: 10 }));
  // Values go out encoded, or raw (minus what would end the query), so bad escapes arrive too.
  const query = fc.array(fc.tuple(queryKey, queryValue, fc.boolean()), { maxLength: 4 }).map((pairs) =>
    pairs.length === 0 ? '' : `?${pairs.map(([k, v, raw]) => `${encodeURIComponent(k)}=${raw ? v.replace(/[#?&\s]/g, '') : encodeURIComponent(v)}`).join('&')}`,
  );

  const body = fc.oneof(
    fc.constant(undefined),
    hostileValue.map((v) => JSON.stringify(v)),
    fc.constantFrom(...hostileJsonTexts),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.uint8Array({ maxLength: 200 }),
    fc.string({ maxLength: 200 }),
  );
  const contentType = fc.constantFrom(undefined, 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/json; charset=latin1');

  const attempt = (): fc.Arbitrary<Attempt> =>
    fc.record({
      route: fc.constantFrom(...server.routes.filter((r) => r.url !== '/healthz')),
      params: fc.array(segment(), { minLength: 4, maxLength: 4 }),
      query,
      contentType,
      body,
    }).map(({ route, params, query: q, contentType: type, body: b }) => {
      let i = 0;
      // Path parameters become generated segments; the rest of the route's path stays as it is.
      const path = route.url.replace(/:[A-Za-z]+/g, () => params[i++ % params.length]!);
      return { method: route.method, path: `${path}${q}`, contentType: b === undefined ? undefined : type, body: route.method === 'GET' ? undefined : b };
    });

  it('answers every generated request with 2xx or a 4xx error body, and refusals change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(attempt(), async ({ method, path, contentType: type, body: b }) => {
        const before = await snapshot();
        const answer = await call(method, path, { ...(type === undefined ? {} : { contentType: type }), ...(b === undefined ? {} : { body: b }) });
        const what = `${method} ${path} (${type ?? 'no content-type'}) -> ${answer.status} ${answer.text.slice(0, 300)}`;
        expect(answer.status, what).toBeLessThan(500);
        if (answer.status < 400) return;
        expect(answer.type, what).toContain('application/json');
        const parsed = JSON.parse(answer.text) as { error?: { code?: unknown; message?: unknown } };
        expect(typeof parsed.error?.code, what).toBe('string');
        expect(typeof parsed.error?.message, what).toBe('string');
        expect((parsed.error!.message as string).length, what).toBeGreaterThan(0);
        expect(await snapshot(), `state changed after a refusal: ${what}`).toBe(before);
      }),
      { numRuns: RUNS },
    );
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 300_000);
});
