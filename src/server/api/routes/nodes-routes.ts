import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { durationSchema } from '../../../core/job-spec.js';
import { summarizeFleet } from '../../../core/fleet-summary.js';
import { NODE_STATES } from '../../../core/states.js';
import type { NodeRecord } from '../../../core/types.js';
import type { ControlPlane } from '../../control-plane.js';
import { parseBody, parseQuery } from '../params.js';

/** Nomad's default drain deadline is 1 h; batch work here is usually shorter, so it gets less. */
export const DEFAULT_DRAIN_DEADLINE_MS = 5 * 60_000;
const MAX_DRAIN_DEADLINE_MS = 7 * 24 * 3_600_000;

const nodesQuery = z.strictObject({
  state: z.enum(NODE_STATES).optional(),
  /** Nodes whose name, provider, region, site, jurisdiction or a label value contains this (any case). */
  q: z.string().min(1).max(200).optional(),
  /** A page, in name order; left out, every node. */
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  offset: z.coerce.number().int().min(0).optional(),
});
const noQuery = z.strictObject({});
// The fleet is shared: every token may see it; changing it is for cluster admins.
const VIEWER = { access: { role: 'viewer' } } as const;
const CLUSTER_ADMIN = { access: { role: 'admin', cluster: true } } as const;
const drainBody = z.strictObject({
  /** How long running attempts may go on before they are stopped and placed elsewhere; 0 moves them now. */
  deadline: durationSchema.pipe(z.number().min(0).max(MAX_DRAIN_DEADLINE_MS, 'expected a deadline of at most 7 days')).default(DEFAULT_DRAIN_DEADLINE_MS),
});

export function registerNodeRoutes(app: FastifyInstance, plane: ControlPlane): void {
  app.get('/v1/nodes', { config: VIEWER }, async (request) => {
    const query = parseQuery(nodesQuery, request.query);
    const needle = query.q?.toLowerCase();
    const matching = plane.nodeRecords().filter((n) => (query.state === undefined || n.state === query.state) && (needle === undefined || nodeMentions(n, needle)));
    const offset = query.offset ?? 0;
    const page = query.limit === undefined && offset === 0 ? matching : matching.slice(offset, offset + (query.limit ?? matching.length));
    // Views (with the price book's price) only for the page: 200 rows of 10,000 do not price them all.
    return { items: page.map((record) => plane.nodeView(record)), total: matching.length };
  });

  // Counts and sites for the overview and the map, summed here rather than from every node record.
  app.get('/v1/fleet', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    return summarizeFleet(plane.nodeRecords());
  });

  app.get<{ Params: { name: string } }>('/v1/nodes/:name', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    return plane.getNode(request.params.name);
  });

  app.post<{ Params: { name: string } }>('/v1/nodes/:name/cordon', { config: CLUSTER_ADMIN }, async (request) => {
    parseQuery(noQuery, request.query);
    return plane.cordonNode(request.params.name);
  });

  app.post<{ Params: { name: string } }>('/v1/nodes/:name/uncordon', { config: CLUSTER_ADMIN }, async (request) => {
    parseQuery(noQuery, request.query);
    return plane.uncordonNode(request.params.name);
  });

  app.post<{ Params: { name: string } }>('/v1/nodes/:name/drain', { config: CLUSTER_ADMIN }, async (request) => {
    parseQuery(noQuery, request.query);
    const { deadline } = parseBody(drainBody, request.body ?? {});
    return plane.drainNode(request.params.name, deadline);
  });
}

function nodeMentions(node: NodeRecord, needle: string): boolean {
  return [node.name, node.provider, node.region, node.site, node.jurisdiction ?? '', ...Object.values(node.labels)].some((v) => v.toLowerCase().includes(needle));
}
