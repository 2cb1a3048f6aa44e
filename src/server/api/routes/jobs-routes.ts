import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { jobSpecJsonSchema } from '../../../core/job-spec.js';
import type { JobView } from '../../../core/types.js';
import { requireNamespace, requireVisible, visibleNamespaces } from '../../auth/access.js';
import type { ControlPlane } from '../../control-plane.js';
import { pageQuery, parseQuery } from '../params.js';
import { checkBodyNamespace, note, principalOf } from '../principal.js';

const jobListQuery = z.strictObject({
  ...pageQuery,
  namespace: z.string().max(63).optional(),
  state: z.enum(['pending', 'running', 'succeeded', 'failed', 'cancelled']).optional(),
});
const taskListQuery = z.strictObject({
  ...pageQuery,
  state: z.enum(['pending', 'assigned', 'running', 'succeeded', 'failed', 'cancelled']).optional(),
});
const noQuery = z.strictObject({});
const VIEWER = { access: { role: 'viewer' } } as const;
const OPERATOR = { access: { role: 'operator' } } as const;

export function registerJobRoutes(app: FastifyInstance, plane: ControlPlane): void {
  /** The job, if the caller's token may see its namespace (else 404, as if it did not exist). */
  const visibleJob = async (request: FastifyRequest, id: string): Promise<JobView> => {
    const job = await plane.jobView(id);
    requireVisible(principalOf(request), job.namespace, 'job', id);
    note(request, { namespace: job.namespace });
    return job;
  };

  app.post('/v1/jobs', { config: OPERATOR }, async (request, reply) => {
    parseQuery(noQuery, request.query);
    checkBodyNamespace(request, request.body);
    const job = await plane.submitJob(request.body);
    note(request, { target: job.id });
    return reply.status(201).send(job);
  });

  // A dry run: where the job would go now and what it would cost, for each objective; nothing is stored.
  app.post('/v1/jobs/estimate', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    checkBodyNamespace(request, request.body);
    return plane.estimateJob(request.body);
  });

  app.get('/v1/jobs', { config: VIEWER }, async (request) => {
    const query = parseQuery(jobListQuery, request.query);
    const token = principalOf(request);
    if (query.namespace !== undefined) requireNamespace(token, query.namespace);
    const namespaces = visibleNamespaces(token);
    return plane.listJobs({ ...query, ...(namespaces === undefined ? {} : { namespaces }) });
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    return visibleJob(request, request.params.id);
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id/transfers', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    await visibleJob(request, request.params.id);
    return plane.jobTransfers(request.params.id);
  });

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/cancel', { config: OPERATOR }, async (request) => {
    parseQuery(noQuery, request.query);
    await visibleJob(request, request.params.id);
    return plane.cancelJob(request.params.id);
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id/tasks', { config: VIEWER }, async (request) => {
    const query = parseQuery(taskListQuery, request.query);
    const job = await visibleJob(request, request.params.id);
    const listing = await plane.store.listTasks(request.params.id, query);
    return {
      total: listing.total,
      items: listing.items.map((task) => plane.taskView(task, job)),
    };
  });

  // Every task's state in one short string (the dashboard's task grid): character i is task
  // <job>.i's state as its first letter (p, a, r, s, f, c). 100,000 tasks fit in 100 KB.
  app.get<{ Params: { id: string } }>('/v1/jobs/:id/task-states', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    const job = await visibleJob(request, request.params.id);
    const states = new Array<string>(job.taskCount).fill('p');
    for (const task of await plane.store.listTaskStates(job.id)) states[task.index] = task.state[0]!;
    return { jobId: job.id, states: states.join('') };
  });

  app.get('/v1/schema/job', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    return jobSpecJsonSchema();
  });
}
