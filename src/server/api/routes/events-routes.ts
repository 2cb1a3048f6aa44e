import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AtollError } from '../../../core/errors.js';
import type { EventRecord } from '../../../core/types.js';
import type { TokenRecord } from '../../../store/store.js';
import { mayActIn } from '../../auth/access.js';
import type { ControlPlane } from '../../control-plane.js';
import { booleanQuery, parseQuery } from '../params.js';
import { principalOf } from '../principal.js';
import { openSse, resumeAfter, wantsStream } from '../sse.js';

const eventsQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional(),
  job: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  /** The last `limit` events instead of the first (a page's "recent events"); not with follow. */
  newest: booleanQuery.optional(),
  follow: booleanQuery.optional(),
});

const REPLAY_PAGE = 1000;

/**
 * Which events a token may see: a job's events if it may see the job's namespace, other events
 * naming a namespace likewise, and cluster events (nodes, policies, prices) always, as every
 * token may read the fleet and the policies. A cluster token sees everything: undefined, no filter.
 */
function eventFilter(plane: ControlPlane, token: TokenRecord): ((event: EventRecord) => Promise<boolean>) | undefined {
  if (token.namespaces === null) return undefined;
  const jobNamespaces = new Map<string, string | null>();
  const namespaceOf = async (jobId: string): Promise<string | null> => {
    if (!jobNamespaces.has(jobId)) jobNamespaces.set(jobId, (await plane.store.getJob(jobId))?.namespace ?? null);
    return jobNamespaces.get(jobId)!;
  };
  return async (event) => {
    if (event.jobId !== null) {
      const namespace = await namespaceOf(event.jobId);
      return namespace !== null && mayActIn(token, namespace);
    }
    const named = event.data['namespace'];
    return typeof named !== 'string' || mayActIn(token, named);
  };
}

export function registerEventRoutes(app: FastifyInstance, plane: ControlPlane): void {
  // The event log, as a page of JSON or as a live stream that first replays from `after`
  // (or Last-Event-ID, so a reconnecting EventSource resumes where it stopped).
  app.get('/v1/events', { config: { access: { role: 'viewer' } } }, async (request, reply) => {
    const query = parseQuery(eventsQuery, request.query);
    const after = resumeAfter(request, query.after);
    const visible = eventFilter(plane, principalOf(request));
    const matches = (e: EventRecord) => query.job === undefined || e.jobId === query.job;
    if (!wantsStream(request, query.follow)) {
      const page = await plane.store.listEvents({ afterSeq: after, limit: query.limit ?? 1000, ...(query.job ? { jobId: query.job } : {}), ...(query.newest ? { newest: true } : {}) });
      // `head`: the newest seq in the log, so a reader whose token sees few events can follow on
      // from there instead of replaying the whole log.
      const head = (await plane.store.maxSeqs()).event;
      if (visible === undefined) return { items: page, head };
      const shown = await Promise.all(page.map(visible));
      return { items: page.filter((_, i) => shown[i]), head };
    }

    if (query.newest) throw new AtollError('invalid_request', 'newest: a live stream follows on from `after`; ask for the newest events without follow');
    const stream = openSse(request, reply);
    let lastSeq = after;
    let replaying = true;
    const buffered: EventRecord[] = [];
    const sendNow = (event: EventRecord) => {
      if (event.seq <= lastSeq || !matches(event)) return;
      lastSeq = event.seq;
      stream.send(event.type, event, event.seq);
    };
    // For a namespace-scoped token, sends run one after another: deciding whether an event is
    // visible may read the store, and the stream must keep the log's order. A cluster token sees
    // every event, so its stream sends each at once.
    let sending: Promise<void> = Promise.resolve();
    const send = visible === undefined ? sendNow : (event: EventRecord) => {
      sending = sending.then(async () => {
        if (event.seq <= lastSeq || !matches(event)) return;
        if (await visible(event)) sendNow(event);
        else lastSeq = event.seq;
      }).catch((error: unknown) => {
        request.log.error({ err: error }, 'event stream failed; ending it so the client reconnects and replays');
        stream.end();
      });
    };
    const off = plane.bus.onEvents((events) => {
      if (replaying) buffered.push(...events);
      else for (const event of events) send(event);
    });
    stream.onClose(off);
    while (!stream.closed) {
      const page = await plane.store.listEvents({ afterSeq: lastSeq, limit: REPLAY_PAGE, ...(query.job ? { jobId: query.job } : {}) });
      for (const event of page) send(event);
      await sending;
      if (page.length < REPLAY_PAGE) break;
    }
    replaying = false;
    for (const event of buffered) send(event);
    await sending;
    stream.send('caught-up', { seq: lastSeq });
    return reply;
  });
}
