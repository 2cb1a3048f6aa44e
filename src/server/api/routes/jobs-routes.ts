import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { jobSpecJsonSchema } from '../../../core/job-spec.js';
import type { ControlPlane } from '../../control-plane.js';
import { pageQuery, parseQuery } from '../params.js';

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

export function registerJobRoutes(app: FastifyInstance, plane: ControlPlane): void {
  app.post('/v1/jobs', async (request, reply) => {
    parseQuery(noQuery, request.query);
    const job = await plane.submitJob(request.body);
    return reply.status(201).send(job);
  });

  // A dry run: where the job would go now and what it would cost, for each objective; nothing is stored.
  app.post('/v1/jobs/estimate', async (request) => {
    parseQuery(noQuery, request.query);
    return plane.estimateJob(request.body);
  });

  app.get('/v1/jobs', async (request) => plane.listJobs(parseQuery(jobListQuery, request.query)));

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', async (request) => {
    parseQuery(noQuery, request.query);
    return plane.jobView(request.params.id);
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id/transfers', async (request) => {
    parseQuery(noQuery, request.query);
    return plane.jobTransfers(request.params.id);
  });

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/cancel', async (request) => {
    parseQuery(noQuery, request.query);
    return plane.cancelJob(request.params.id);
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id/tasks', async (request) => {
    const query = parseQuery(taskListQuery, request.query);
    const job = await plane.jobView(request.params.id);
    const listing = await plane.store.listTasks(request.params.id, query);
    return {
      total: listing.total,
      items: listing.items.map((task) => plane.taskView(task, job)),
    };
  });

  app.get('/v1/schema/job', async (request) => {
    parseQuery(noQuery, request.query);
    return jobSpecJsonSchema();
  });
}
