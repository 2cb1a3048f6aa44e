import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EventRecord } from '../../../core/types.js';
import type { ControlPlane } from '../../control-plane.js';
import { booleanQuery, parseQuery } from '../params.js';
import { openSse, resumeAfter, wantsStream } from '../sse.js';

const eventsQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional(),
  job: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  follow: booleanQuery.optional(),
});

const REPLAY_PAGE = 1000;

export function registerEventRoutes(app: FastifyInstance, plane: ControlPlane): void {
  // The event log, as a page of JSON or as a live stream that first replays from `after`
  // (or Last-Event-ID, so a reconnecting EventSource resumes where it stopped).
  app.get('/v1/events', async (request, reply) => {
    const query = parseQuery(eventsQuery, request.query);
    const after = resumeAfter(request, query.after);
    const matches = (e: EventRecord) => query.job === undefined || e.jobId === query.job;
    if (!wantsStream(request, query.follow)) {
      const items = await plane.store.listEvents({ afterSeq: after, limit: query.limit ?? 1000, ...(query.job ? { jobId: query.job } : {}) });
      return { items };
    }

    const stream = openSse(request, reply);
    let lastSeq = after;
    let replaying = true;
    const buffered: EventRecord[] = [];
    const send = (event: EventRecord) => {
      if (event.seq <= lastSeq || !matches(event)) return;
      lastSeq = event.seq;
      stream.send(event.type, event, event.seq);
    };
    const off = plane.bus.onEvents((events) => {
      if (replaying) buffered.push(...events);
      else for (const event of events) send(event);
    });
    stream.onClose(off);
    while (!stream.closed) {
      const page = await plane.store.listEvents({ afterSeq: lastSeq, limit: REPLAY_PAGE, ...(query.job ? { jobId: query.job } : {}) });
      for (const event of page) send(event);
      if (page.length < REPLAY_PAGE) break;
    }
    replaying = false;
    for (const event of buffered) send(event);
    stream.send('caught-up', { seq: lastSeq });
    return reply;
  });
}
