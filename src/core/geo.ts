// Distances on the globe and the round-trip times they imply, for ranking nodes by latency when
// no measured round-trip time is known. Estimates, meant to order candidates, not to promise SLAs.

export interface GeoPoint {
  /** Degrees north, -90..90. */
  readonly lat: number;
  /** Degrees east, -180..180. */
  readonly lon: number;
}

/** IUGG mean Earth radius (R1); the haversine on a sphere of this radius errs by under 0.5%. */
export const EARTH_RADIUS_KM = 6371.0088;

/** Light in fibre: c / 1.47 (refractive index of silica fibre) is about 204 km per ms; rounded down. */
export const FIBRE_KM_PER_MS = 200;

/**
 * Fibre paths are longer than the great circle: cables follow roads, railways and coasts, and
 * routes detour through exchange points. Measurement studies of internet paths find round trips
 * about 3x the vacuum-light time, i.e. about 2x the straight fibre time (Singla et al., "The
 * Internet at the Speed of Light", HotNets 2014); cloud backbones between regions do better,
 * hence 1.4.
 */
export const ROUTE_STRETCH = 1.4;

/** Access links, data-centre fabric and network stacks at both ends: what a same-city round trip costs. */
export const BASE_RTT_MS = 4;

/** About one router hop per this many km of path; long-haul links span hundreds of km between routers. */
export const KM_PER_HOP = 500;

/** Forwarding, queueing and serialisation at one hop, both ways of the round trip. */
export const HOP_RTT_MS = 0.3;

const toRadians = (degrees: number): number => (degrees * Math.PI) / 180;

/** Great-circle distance in km (haversine on the mean-radius sphere). */
export function greatCircleKm(a: GeoPoint, b: GeoPoint): number {
  const sinLat = Math.sin(toRadians(b.lat - a.lat) / 2);
  const sinLon = Math.sin(toRadians(b.lon - a.lon) / 2);
  const h = sinLat * sinLat + Math.cos(toRadians(a.lat)) * Math.cos(toRadians(b.lat)) * sinLon * sinLon;
  // Rounding can push h a hair above 1 for antipodal points; asin would then give NaN.
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(Math.min(1, h)));
}

/**
 * Estimated round trip in ms over `distanceKm` of great circle: the base overhead, the stretched
 * fibre path there and back, and the hops along it. Negative distances count as 0.
 */
export function estimateRttMs(distanceKm: number): number {
  const km = Math.max(0, distanceKm);
  const fibreMs = (2 * km * ROUTE_STRETCH) / FIBRE_KM_PER_MS;
  // Fractional hops: an average over many paths, and it keeps the estimate smooth in distance.
  const hopsMs = ((km * ROUTE_STRETCH) / KM_PER_HOP) * HOP_RTT_MS;
  return BASE_RTT_MS + fibreMs + hopsMs;
}
