import type { FastifyInstance } from 'fastify';
import type { ServerMetrics } from '../../metrics.js';

/** Prometheus scrapes with a viewer token for every namespace: the page spans them all (docs/metrics.md). */
export function registerMetricsRoutes(app: FastifyInstance, metrics: ServerMetrics): void {
  app.get('/metrics', { config: { access: { role: 'viewer', cluster: true } } }, async (_request, reply) => {
    const text = await metrics.render();
    return reply.type(metrics.contentType).send(text);
  });
}
