import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import pino, { type Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { BODY_LIMIT_BYTES, sendError } from './api/error-mapping.js';
import { DEFAULT_HTTP_TIMEOUTS, httpServerOptions, limitBodyTime, type HttpTimeouts } from './api/http-limits.js';
import { registerJsonBodyParser } from './api/json-body.js';
import { registerAgentRoutes } from './api/routes/agents-routes.js';
import { registerDataRoutes } from './api/routes/data-routes.js';
import { registerEventRoutes } from './api/routes/events-routes.js';
import { registerJobRoutes } from './api/routes/jobs-routes.js';
import { registerMetricsRoutes } from './api/routes/metrics-routes.js';
import { registerNodeRoutes } from './api/routes/nodes-routes.js';
import { registerPolicyRoutes } from './api/routes/policies-routes.js';
import { registerSpendRoutes } from './api/routes/spend-routes.js';
import { registerTaskRoutes } from './api/routes/tasks-routes.js';
import { auditRequests } from './api/audit-hook.js';
import { registerAuditRoutes } from './api/routes/audit-routes.js';
import { registerTokenRoutes } from './api/routes/tokens-routes.js';
import { registerSignInRoutes } from './api/routes/sign-in-routes.js';
import { registerWebApp } from './web-app.js';
import { checkRouteAccess, type RouteAccess } from './auth/access.js';
import { Authenticator } from './auth/authenticator.js';
import { LiveStreams } from './auth/live-streams.js';
import { AuditLog } from './audit/audit-log.js';
import type { TokenRecord } from '../store/store.js';
import { bootstrapTokens, type BootstrapFiles } from './auth/bootstrap.js';
import { loadDataSigningKeys } from './data-signing-key.js';
import { loadSecretCipher } from './secrets/secret-key-file.js';
import { ControlPlane } from './control-plane.js';
import { defaultPriceBookFile, readPriceBookFile } from './pricing.js';
import { lockDataDir } from './data-dir-lock.js';
import { AgentGateway } from './gateway/agent-gateway.js';
import { registerIdentityRoutes } from './api/routes/identity-routes.js';
import { CA_CERT_FILE } from './tls/certificate-authority.js';
import { NodeIdentity } from './tls/node-identity.js';
import { prepareServerTls, type ServingTls, type TlsOptions } from './tls/server-tls.js';
import { ServerMetrics } from './metrics.js';

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly heartbeatMs?: number;
  readonly unreachableAfterMs?: number;
  readonly lostAfterMs?: number;
  /** After a restart, how long agents have to reconnect before their work is re-placed. */
  readonly restartGraceMs?: number;
  readonly logLevel?: string;
  readonly clock?: Clock;
  /** A price book file to put in force at start; left out, the stored book, or on first start examples/pricing.yaml. */
  readonly pricingFile?: string;
  /** TLS: on by default with the data dir's own CA; `insecure` serves plain HTTP. */
  readonly tls?: TlsOptions;
  /** Lifetime of the client certificates nodes get on join and renewal (default 24 h). */
  readonly nodeCertLifetimeMs?: number;
  /** How long clients may take over a request (http-limits.ts); tests shorten them. */
  readonly httpTimeouts?: Partial<HttpTimeouts>;
  /** Where fatal store errors go; the CLI exits the process. */
  readonly onFatal?: (error: unknown) => void;
}

export interface RunningServer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly plane: ControlPlane;
  readonly metrics: ServerMetrics;
  readonly tokens: BootstrapFiles;
  /** True when serving HTTPS/WSS. */
  readonly tls: boolean;
  /** The cluster CA certificate file clients trust (<data-dir>/ca.crt). */
  readonly caFile: string;
  readonly routes: readonly { method: string; url: string }[];
  close(): Promise<void>;
}

export const DEFAULT_PORT = 7700;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may use the route; left out, only an admin token for every namespace. */
    access?: RouteAccess;
  }
}

/** Routes that say nothing are for cluster admins: a route added without thought stays closed. */
const DEFAULT_ACCESS: RouteAccess = { role: 'admin', cluster: true };
/** A path no route matches: any API token learns it does not exist (404), nobody else anything (401). */
const UNKNOWN_PATH_ACCESS: RouteAccess = { role: 'viewer' };

/** Starts the control plane: store, hot state, HTTP API, agent gateway. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const unlock = lockDataDir(dataDir);
  try {
    return await startLocked(options, dataDir, unlock);
  } catch (error) {
    unlock();
    throw error;
  }
}

async function startLocked(options: ServerOptions, dataDir: string, unlock: () => void): Promise<RunningServer> {
  const log = pino({ level: options.logLevel ?? 'info', redact: ['req.headers.authorization'] }, pino.destination(2));
  const clock = options.clock ?? systemClock;
  const store = openSqliteStore(join(dataDir, 'atoll.db'));
  await store.migrate();
  const serving = await prepareServerTls(dataDir, options.host, options.tls ?? {});
  if (serving.https === undefined) log.warn('INSECURE: serving plain HTTP (--insecure): tokens, node credentials and data cross the network readable by anyone on the path; use only on loopback for local development');
  const tokens = await bootstrapTokens(store, dataDir, clock, serving.ca.fingerprint);
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const fileBook = options.pricingFile === undefined ? undefined : await readPriceBookFile(options.pricingFile);
  const metrics = new ServerMetrics({ processMetrics: true });
  const audit = new AuditLog(store, log, clock);
  const plane = await ControlPlane.start(store, {
    clock,
    priceBook: fileBook ?? (await readPriceBookFile(defaultPriceBookFile())),
    dataKeys: await loadDataSigningKeys(dataDir),
    secrets: await loadSecretCipher(dataDir),
    onWarning: (message) => log.warn(message),
    heartbeatMs,
    // Tuned so a dead agent's work runs elsewhere within about 2 s of its connection closing
    // (SIGKILL, crash, reboot) and within about 5 s of it going silent (a cut cable, a frozen box);
    // see docs/failures.md for the trade against re-running work after a short network blip.
    unreachableAfterMs: options.unreachableAfterMs ?? heartbeatMs * 3,
    lostAfterMs: options.lostAfterMs ?? Math.round(heartbeatMs * 1.5),
    restartGraceMs: options.restartGraceMs ?? 15_000,
    maxTasksPerRound: 2000,
    onFatal: options.onFatal ?? ((error) => {
      log.fatal({ err: error }, 'store write failed; exiting so a restart rebuilds state from the store');
      process.exit(70);
    }),
    onSchedulerError: (error) => log.error({ err: error }, 'scheduling round failed; nothing was placed, retrying after a back-off'),
    onRound: (report) => metrics.round(report),
    onHeartbeat: () => metrics.heartbeat(),
    onAgentDenied: ({ node, action, target, reason }) =>
      audit.record({ actor: node, actorKind: 'node', role: null, action, target, namespace: null, outcome: 'denied', status: 403, reason, remote: null }),
  });
  // An explicit --pricing wins over the book stored by an earlier start or PUT /v1/pricing.
  if (fileBook !== undefined && plane.priceBook().book !== fileBook) await plane.setPriceBook(fileBook);
  const stopMetrics = metrics.watch(plane);
  const auth = new Authenticator(store, () => clock.now());
  const streams = new LiveStreams();
  const routes: { method: string; url: string }[] = [];
  const identity = new NodeIdentity(store, plane, serving.ca, serving.dataCa, {
    tls: serving.https !== undefined, certLifetimeMs: options.nodeCertLifetimeMs ?? 24 * 3_600_000, clock, log,
  });
  await identity.start();
  const tokenFiles = { dataDir, adminTokenFile: tokens.adminTokenFile };
  const httpTimeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...options.httpTimeouts };
  // Fastify hands its `http` options only to a plain server: an HTTPS one gets the same header
  // deadline here, and a client that never finishes the TLS handshake is cut off like one that
  // never sends its headers.
  const https = serving.https === undefined ? undefined : {
    ...serving.https, ...httpServerOptions(httpTimeouts).http, handshakeTimeout: httpTimeouts.headersMs,
  };
  const app = buildApp({ plane, metrics, auth, audit, streams, log, routes, clock, tokenFiles, identity, https, httpTimeouts });
  const gateway = new AgentGateway(plane, auth, log, audit, identity);
  identity.onRevoked((node) => gateway.disconnect(node, 'node revoked'));
  gateway.attach(app.server);
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `${serving.https ? 'https' : 'http'}://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  return {
    url, app, plane, metrics, tokens, routes, tls: serving.https !== undefined, caFile: join(dataDir, CA_CERT_FILE),
    async close() {
      gateway.close();
      identity.close();
      stopMetrics();
      await plane.close();
      await app.close();
      await audit.flush();
      await store.close();
      unlock();
    },
  };
}

interface AppParts {
  readonly plane: ControlPlane;
  readonly metrics: ServerMetrics;
  readonly auth: Authenticator;
  readonly audit: AuditLog;
  readonly streams: LiveStreams;
  readonly log: Logger;
  readonly routes: { method: string; url: string }[];
  readonly clock: Clock;
  readonly tokenFiles: { readonly dataDir: string; readonly adminTokenFile: string };
  readonly identity: NodeIdentity;
  /** https.createServer options; undefined: plain HTTP (--insecure). */
  readonly https: ServingTls['https'];
  readonly httpTimeouts: HttpTimeouts;
}

function buildApp({ plane, metrics, auth, audit, streams, log, routes, clock, tokenFiles, identity, https, httpTimeouts }: AppParts): FastifyInstance {
  // Typed as the plain-HTTP instance: routes and hooks are the same, only the listener differs.
  const app = Fastify({ ...(https === undefined ? {} : { https }), loggerInstance: log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), bodyLimit: BODY_LIMIT_BYTES, return503OnClosing: true,
    // Live event streams never end on their own; without this, shutdown would wait for them.
    forceCloseConnections: true, ...httpServerOptions(httpTimeouts),
    // Bad URLs (`/v1/jobs/%`) and over-long path parameters are refused by the router before any
    // handler; without this they answer in Fastify's own error shape instead of {error:{code,message}}.
    frameworkErrors: (error, request, reply) => void sendError(request, reply, error) }) as unknown as FastifyInstance;
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  // Before authentication, so a client that never finishes its body is cut off whoever it claims to be.
  limitBodyTime(app, httpTimeouts);
  registerJsonBodyParser(app);
  app.decorate('liveStreams', streams);
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } }),
  );
  // Authentication runs before routing decisions are visible, so unknown paths also need a token.
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.url === undefined ? UNKNOWN_PATH_ACCESS : request.routeOptions.config?.access ?? DEFAULT_ACCESS;
    if (access === 'none') return;
    const token: TokenRecord = await auth.authenticate(request.headers.authorization, access === 'join' ? ['join'] : access === 'node' ? ['node'] : ['api']);
    request.principal = token;
    if (typeof access === 'object') checkRouteAccess(token, access);
  });
  auditRequests(app, audit);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url });
  });
  app.get('/healthz', { config: { access: 'none' } }, async () => ({ ok: true }));
  registerWebApp(app);
  registerJobRoutes(app, plane);
  registerTaskRoutes(app, plane);
  registerNodeRoutes(app, plane);
  registerDataRoutes(app, plane, identity.tls ? identity.dataCaPem : undefined);
  registerPolicyRoutes(app, plane);
  registerEventRoutes(app, plane);
  registerSpendRoutes(app, plane, () => clock.now());
  registerAgentRoutes(app, plane, auth, identity);
  registerIdentityRoutes(app, identity);
  registerMetricsRoutes(app, metrics);
  registerTokenRoutes(app, { store: plane.store, auth, streams, clock, tokenFiles });
  registerSignInRoutes(app, { store: plane.store, auth, clock });
  registerAuditRoutes(app, plane.store, audit, () => clock.now());
  return app;
}
