import type { EventRecord } from './types.js';

// A job's transfer ledger, summed up: how many bytes crossed which boundary. Read from its
// `transfer.completed` events, so the event log alone answers "what did this job move?".

export const ROUTE_KINDS = ['same-site', 'cross-site', 'cross-region', 'cross-provider'] as const;
export type RouteKind = (typeof ROUTE_KINDS)[number];

export interface TransferEnd {
  readonly node: string;
  readonly provider?: string;
  readonly region?: string;
  readonly site?: string;
  readonly jurisdiction?: string | null;
}

export interface TransferSummary {
  readonly transfers: number;
  readonly bytes: number;
  /** Bytes by the widest boundary they crossed. */
  readonly byRoute: Readonly<Record<RouteKind, number>>;
  /** Bytes between places (`provider/region/site`), largest first. */
  readonly routes: readonly { readonly from: string; readonly to: string; readonly kind: RouteKind; readonly transfers: number; readonly bytes: number }[];
}

/** The widest boundary between two ends; an end without a location (its node left the fleet) counts as elsewhere. */
export function routeKind(from: TransferEnd, to: TransferEnd): RouteKind {
  if (from.provider === undefined || to.provider === undefined || from.provider !== to.provider) return 'cross-provider';
  if (from.region !== to.region) return 'cross-region';
  return siteOf(from) === siteOf(to) ? 'same-site' : 'cross-site';
}

/** An edge box's site, or for a cloud node without one, the node itself. */
function siteOf(end: TransferEnd): string {
  return end.site || end.node;
}

export function summarizeTransfers(events: readonly EventRecord[]): TransferSummary {
  const byRoute: Record<RouteKind, number> = { 'same-site': 0, 'cross-site': 0, 'cross-region': 0, 'cross-provider': 0 };
  const routes = new Map<string, { from: string; to: string; kind: RouteKind; transfers: number; bytes: number }>();
  let transfers = 0;
  let bytes = 0;
  for (const event of events) {
    if (event.type !== 'transfer.completed') continue;
    const from = event.data.from as TransferEnd;
    const to = event.data.to as TransferEnd;
    const moved = Number(event.data.bytes);
    const kind = routeKind(from, to);
    transfers += 1;
    bytes += moved;
    byRoute[kind] += moved;
    const key = `${place(from)}\u0000${place(to)}`;
    const route = routes.get(key) ?? { from: place(from), to: place(to), kind, transfers: 0, bytes: 0 };
    route.transfers += 1;
    route.bytes += moved;
    routes.set(key, route);
  }
  return { transfers, bytes, byRoute, routes: [...routes.values()].sort((a, b) => b.bytes - a.bytes) };
}

function place(end: TransferEnd): string {
  return [end.provider ?? '?', end.region ?? '?', siteOf(end)].join('/');
}
