import { describe, expect, it } from 'vitest';
import { greatCircleKm } from './geo.js';
import { ISO_COUNTRY_CODES } from './jurisdictions.js';
import { KNOWN_REGIONS, lookupRegion } from './known-regions.js';

const entries = Object.entries(KNOWN_REGIONS);

describe('KNOWN_REGIONS', () => {
  it('lists regions of aws, gcp, azure and hetzner', () => {
    const providers = new Set(entries.map(([, region]) => region.provider));
    expect([...providers].sort()).toEqual(['aws', 'azure', 'gcp', 'hetzner']);
    expect(entries.length).toBeGreaterThanOrEqual(60);
  });

  it.each(entries)('%s has an assigned country code, coordinates in range and a city', (_name, region) => {
    expect(ISO_COUNTRY_CODES.has(region.jurisdiction)).toBe(true);
    expect(Math.abs(region.lat)).toBeLessThanOrEqual(90);
    expect(Math.abs(region.lon)).toBeLessThanOrEqual(180);
    expect(region.city).not.toBe('');
  });

  it('puts regions that share a city within 50 km of each other', () => {
    const byCity = new Map<string, { lat: number; lon: number }>();
    for (const [name, region] of entries) {
      const seen = byCity.get(region.city);
      if (seen === undefined) byCity.set(region.city, region);
      else expect(greatCircleKm(seen, region), name).toBeLessThan(50);
    }
  });

  it('is frozen', () => {
    expect(Object.isFrozen(KNOWN_REGIONS)).toBe(true);
    expect(Object.isFrozen(KNOWN_REGIONS['eu-west-1'])).toBe(true);
  });
});

describe('lookupRegion', () => {
  it.each([
    { name: 'eu-west-1', jurisdiction: 'IE', lat: 53.3, lon: -6.3, provider: 'aws' },
    { name: 'us-east-1', jurisdiction: 'US', lat: 39.0, lon: -77.5, provider: 'aws' },
    { name: 'europe-west3', jurisdiction: 'DE', lat: 50.1, lon: 8.7, provider: 'gcp' },
    { name: 'australia-southeast1', jurisdiction: 'AU', lat: -33.9, lon: 151.2, provider: 'gcp' },
    { name: 'westeurope', jurisdiction: 'NL', lat: 52.4, lon: 4.9, provider: 'azure' },
    { name: 'fsn1', jurisdiction: 'DE', lat: 50.5, lon: 12.4, provider: 'hetzner' },
    { name: 'sin', jurisdiction: 'SG', lat: 1.3, lon: 103.8, provider: 'hetzner' },
  ])('$name is in $jurisdiction near $lat,$lon', ({ name, jurisdiction, lat, lon, provider }) => {
    const region = lookupRegion(name);
    expect(region).toMatchObject({ jurisdiction, provider });
    expect(greatCircleKm(region!, { lat, lon })).toBeLessThan(20);
  });

  it.each(['EU-WEST-1', 'eu-west-9', '', 'constructor', 'toString', '__proto__'])('does not know %j', (name) => {
    expect(lookupRegion(name)).toBeUndefined();
  });
});
