import type { FastifyInstance } from 'fastify';
import type { ServerMetrics } from '../../metrics.js';

/** Prometheus scrapes with the admin token, as every route but /healthz needs one (docs/metrics.md). */
export function registerMetricsRoutes(app: FastifyInstance, metrics: ServerMetrics): void {
  app.get('/metrics', { config: { auth: ['admin'] } }, async (_request, reply) => {
    const text = await metrics.render();
    return reply.type(metrics.contentType).send(text);
  });
}
