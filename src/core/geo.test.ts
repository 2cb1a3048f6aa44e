import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BASE_RTT_MS, EARTH_RADIUS_KM, estimateRttMs, type GeoPoint, greatCircleKm } from './geo.js';

const paris: GeoPoint = { lat: 48.8566, lon: 2.3522 };
const frankfurt: GeoPoint = { lat: 50.1109, lon: 8.6821 };
const london: GeoPoint = { lat: 51.5074, lon: -0.1278 };
const newYork: GeoPoint = { lat: 40.7128, lon: -74.006 };
const singapore: GeoPoint = { lat: 1.3521, lon: 103.8198 };
const sydney: GeoPoint = { lat: -33.8688, lon: 151.2093 };

const HALF_CIRCUMFERENCE_KM = Math.PI * EARTH_RADIUS_KM;

const point = fc.record({
  lat: fc.double({ min: -90, max: 90, noNaN: true }),
  lon: fc.double({ min: -180, max: 180, noNaN: true }),
});

describe('greatCircleKm', () => {
  it.each([
    { from: 'Paris', a: paris, to: 'Frankfurt', b: frankfurt, km: 479 },
    { from: 'London', a: london, to: 'New York', b: newYork, km: 5570 },
    { from: 'Frankfurt', a: frankfurt, to: 'Singapore', b: singapore, km: 10_260 },
    { from: 'Singapore', a: singapore, to: 'Sydney', b: sydney, km: 6_300 },
  ])('$from to $to is about $km km', ({ a, b, km }) => {
    expect(Math.abs(greatCircleKm(a, b) - km)).toBeLessThan(km * 0.01);
  });

  it('is 0 from a point to itself and half the circumference to its antipode', () => {
    expect(greatCircleKm(paris, paris)).toBe(0);
    expect(greatCircleKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 })).toBeCloseTo(HALF_CIRCUMFERENCE_KM, 6);
    expect(greatCircleKm({ lat: 90, lon: 0 }, { lat: -90, lon: 0 })).toBeCloseTo(HALF_CIRCUMFERENCE_KM, 6);
  });

  it('treats longitudes 180 and -180 as the same meridian', () => {
    expect(greatCircleKm({ lat: 10, lon: 180 }, { lat: 10, lon: -180 })).toBeCloseTo(0, 6);
  });

  it('is symmetric, non-negative and at most half the circumference', () => {
    fc.assert(
      fc.property(point, point, (a, b) => {
        const d = greatCircleKm(a, b);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(HALF_CIRCUMFERENCE_KM + 1e-6);
        expect(greatCircleKm(b, a)).toBeCloseTo(d, 6);
      }),
    );
  });

  it('obeys the triangle inequality', () => {
    fc.assert(
      fc.property(point, point, point, (a, b, c) => {
        // A metre of slack: the haversine loses a few millimetres near antipodal points.
        expect(greatCircleKm(a, c)).toBeLessThanOrEqual(greatCircleKm(a, b) + greatCircleKm(b, c) + 1e-3);
      }),
    );
  });
});

describe('estimateRttMs', () => {
  it('gives the base overhead, a small positive time, within one city', () => {
    expect(estimateRttMs(0)).toBe(BASE_RTT_MS);
    expect(BASE_RTT_MS).toBeGreaterThan(0);
    expect(BASE_RTT_MS).toBeLessThan(10);
  });

  it.each([
    { route: 'Paris-Frankfurt', a: paris, b: frankfurt, min: 10, max: 15 },
    { route: 'London-New York', a: london, b: newYork, min: 70, max: 90 },
    { route: 'Frankfurt-Singapore', a: frankfurt, b: singapore, min: 150, max: 200 },
  ])('$route comes out between $min and $max ms', ({ a, b, min, max }) => {
    const rtt = estimateRttMs(greatCircleKm(a, b));
    expect(rtt).toBeGreaterThanOrEqual(min);
    expect(rtt).toBeLessThanOrEqual(max);
  });

  it('counts a negative distance as none', () => {
    expect(estimateRttMs(-5)).toBe(BASE_RTT_MS);
  });

  it('never gives less for a farther distance', () => {
    const km = fc.double({ min: 0, max: HALF_CIRCUMFERENCE_KM, noNaN: true });
    fc.assert(
      fc.property(km, km, (x, y) => {
        const [near, far] = x <= y ? [x, y] : [y, x];
        expect(estimateRttMs(far)).toBeGreaterThanOrEqual(estimateRttMs(near));
      }),
    );
  });

  it('orders real routes as their distances', () => {
    const routes = [
      [paris, frankfurt],
      [london, newYork],
      [singapore, sydney],
      [frankfurt, singapore],
    ] as const;
    const rtts = routes.map(([a, b]) => estimateRttMs(greatCircleKm(a, b)));
    expect(rtts).toEqual([...rtts].sort((x, y) => x - y));
  });
});
