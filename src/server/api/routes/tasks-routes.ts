import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { notFound } from '../../../core/errors.js';
import { attemptId } from '../../../core/ids.js';
import { isTerminalTask } from '../../../core/states.js';
import type { LogChunk, TaskRecord } from '../../../core/types.js';
import { requireVisible } from '../../auth/access.js';
import type { ControlPlane } from '../../control-plane.js';
import { note, principalOf } from '../principal.js';
import { booleanQuery, parseQuery } from '../params.js';
import { openSse, resumeAfter, wantsStream } from '../sse.js';

const logsQuery = z.strictObject({
  /** Epoch of the attempt to show; default the latest; `all` for every attempt. */
  attempt: z.union([z.literal('all'), z.coerce.number().int().min(1)]).optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  follow: booleanQuery.optional(),
});
const noQuery = z.strictObject({});
const VIEWER = { access: { role: 'viewer' } } as const;

export function registerTaskRoutes(app: FastifyInstance, plane: ControlPlane): void {
  /** The task, if the caller's token may see its job's namespace (else 404, as if it did not exist). */
  const requireTask = async (request: FastifyRequest, id: string): Promise<TaskRecord> => {
    const task = await plane.store.getTask(id);
    if (!task) throw notFound('task', id);
    const job = await plane.store.getJob(task.jobId);
    if (job !== undefined) {
      requireVisible(principalOf(request), job.namespace, 'task', id);
      note(request, { namespace: job.namespace });
    }
    return task;
  };

  app.get<{ Params: { id: string } }>('/v1/tasks/:id', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    const task = await requireTask(request, request.params.id);
    const history = await plane.store.listAttempts(task.id);
    return { ...plane.taskView(task, await plane.jobView(task.jobId)), history };
  });

  app.get<{ Params: { id: string } }>('/v1/tasks/:id/explanation', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    const task = await requireTask(request, request.params.id);
    const explanation = await plane.explanation(task.id);
    return { taskId: task.id, node: task.node, explanation: explanation ?? null, waiting: plane.waitingReason(task.id) ?? null };
  });

  app.get<{ Params: { id: string } }>('/v1/tasks/:id/logs', { config: VIEWER }, async (request, reply) => {
    const query = parseQuery(logsQuery, request.query);
    const task = await requireTask(request, request.params.id);
    const attemptIds = async (): Promise<string[]> => {
      const attempts = await plane.store.listAttempts(task.id);
      if (query.attempt === 'all') return attempts.map((a) => a.id);
      const chosen = query.attempt === undefined ? attempts.at(-1) : attempts.find((a) => a.epoch === query.attempt);
      return chosen ? [chosen.id] : [];
    };
    const after = resumeAfter(request, query.after);
    if (!wantsStream(request, query.follow)) {
      const items = await plane.store.listLogs({ attemptIds: await attemptIds(), afterSeq: after, limit: query.limit ?? 10_000 });
      return { items, state: task.state };
    }

    const stream = openSse(request, reply);
    let lastSeq = after;
    const buffered: LogChunk[] = [];
    let replaying = true;
    const sendChunk = (chunk: LogChunk) => {
      if (chunk.seq <= lastSeq) return;
      lastSeq = chunk.seq;
      stream.send('log', chunk, chunk.seq);
    };
    const endIfDone = async () => {
      const latest = await plane.store.getTask(task.id);
      if (latest && isTerminalTask(latest.state)) {
        stream.send('end', { state: latest.state });
        stream.end();
      }
    };
    const offLogs = plane.bus.onLogs((chunks) => {
      for (const chunk of chunks) {
        if (chunk.taskId !== task.id) continue;
        // An explicit attempt number follows that attempt only; the default follows the task.
        if (typeof query.attempt === 'number' && chunk.attemptId !== attemptId(task.id, query.attempt)) continue;
        if (replaying) buffered.push(chunk);
        else sendChunk(chunk);
      }
    });
    const offEvents = plane.bus.onEvents((events) => {
      if (events.some((e) => e.taskId === task.id && (e.type === 'attempt.finished' || e.type === 'attempt.lost')) ||
        events.some((e) => e.jobId === task.jobId && e.type === 'job.finished')) {
        void endIfDone().catch((error: unknown) => request.log.error({ err: error }, 'log stream failed'));
      }
    });
    stream.onClose(() => {
      offLogs();
      offEvents();
    });
    while (!stream.closed) {
      const page = await plane.store.listLogs({ attemptIds: await attemptIds(), afterSeq: lastSeq, limit: 1000 });
      for (const chunk of page) sendChunk(chunk);
      if (page.length < 1000) break;
    }
    replaying = false;
    for (const chunk of buffered) sendChunk(chunk);
    await endIfDone();
    return reply;
  });
}
