import { AtollError } from './errors.js';
import type { GeoPoint } from './geo.js';

// Where the main public cloud regions are, so `near: { users: [eu-west-1] }` works before any
// node of the fleet sits in that region. Coordinates are of the city the provider names (the
// data centres are often in its outskirts): good to some tens of km, plenty for latency estimates.

export interface KnownRegion extends GeoPoint {
  /** ISO 3166-1 alpha-2 code of the country the region is in. */
  readonly jurisdiction: string;
  readonly city: string;
  readonly provider: string;
}

type Row = readonly [region: string, city: string, jurisdiction: string, lat: number, lon: number];

const AWS: readonly Row[] = [
  ['us-east-1', 'Ashburn, Virginia', 'US', 39.04, -77.49],
  ['us-east-2', 'Columbus, Ohio', 'US', 39.96, -83.0],
  ['us-west-1', 'San Jose, California', 'US', 37.34, -121.89],
  ['us-west-2', 'Boardman, Oregon', 'US', 45.84, -119.7],
  ['ca-central-1', 'Montreal', 'CA', 45.5, -73.57],
  ['sa-east-1', 'São Paulo', 'BR', -23.55, -46.63],
  ['eu-west-1', 'Dublin', 'IE', 53.35, -6.26],
  ['eu-west-2', 'London', 'GB', 51.51, -0.13],
  ['eu-west-3', 'Paris', 'FR', 48.86, 2.35],
  ['eu-central-1', 'Frankfurt', 'DE', 50.11, 8.68],
  ['eu-central-2', 'Zurich', 'CH', 47.37, 8.54],
  ['eu-north-1', 'Stockholm', 'SE', 59.33, 18.07],
  ['eu-south-1', 'Milan', 'IT', 45.46, 9.19],
  ['eu-south-2', 'Zaragoza, Aragón', 'ES', 41.65, -0.88],
  ['il-central-1', 'Tel Aviv', 'IL', 32.09, 34.78],
  ['me-south-1', 'Manama', 'BH', 26.23, 50.59],
  ['af-south-1', 'Cape Town', 'ZA', -33.92, 18.42],
  ['ap-south-1', 'Mumbai', 'IN', 19.08, 72.88],
  ['ap-east-1', 'Hong Kong', 'HK', 22.32, 114.17],
  ['ap-northeast-1', 'Tokyo', 'JP', 35.68, 139.69],
  ['ap-northeast-2', 'Seoul', 'KR', 37.57, 126.98],
  ['ap-northeast-3', 'Osaka', 'JP', 34.69, 135.5],
  ['ap-southeast-1', 'Singapore', 'SG', 1.35, 103.82],
  ['ap-southeast-2', 'Sydney', 'AU', -33.87, 151.21],
  ['ap-southeast-3', 'Jakarta', 'ID', -6.21, 106.85],
];

const GCP: readonly Row[] = [
  ['us-central1', 'Council Bluffs, Iowa', 'US', 41.26, -95.86],
  ['us-east1', 'Moncks Corner, South Carolina', 'US', 33.2, -80.01],
  ['us-east4', 'Ashburn, Virginia', 'US', 39.04, -77.49],
  ['us-west1', 'The Dalles, Oregon', 'US', 45.59, -121.18],
  ['us-west2', 'Los Angeles', 'US', 34.05, -118.24],
  ['northamerica-northeast1', 'Montreal', 'CA', 45.5, -73.57],
  ['southamerica-east1', 'Osasco, São Paulo', 'BR', -23.53, -46.79],
  ['europe-west1', 'St. Ghislain', 'BE', 50.45, 3.82],
  ['europe-west2', 'London', 'GB', 51.51, -0.13],
  ['europe-west3', 'Frankfurt', 'DE', 50.11, 8.68],
  ['europe-west4', 'Eemshaven', 'NL', 53.44, 6.83],
  ['europe-west6', 'Zurich', 'CH', 47.37, 8.54],
  ['europe-west9', 'Paris', 'FR', 48.86, 2.35],
  ['europe-north1', 'Hamina', 'FI', 60.57, 27.2],
  ['europe-southwest1', 'Madrid', 'ES', 40.42, -3.7],
  ['me-west1', 'Tel Aviv', 'IL', 32.09, 34.78],
  ['asia-south1', 'Mumbai', 'IN', 19.08, 72.88],
  ['asia-east1', 'Changhua County', 'TW', 24.05, 120.52],
  ['asia-east2', 'Hong Kong', 'HK', 22.32, 114.17],
  ['asia-northeast1', 'Tokyo', 'JP', 35.68, 139.69],
  ['asia-southeast1', 'Jurong West', 'SG', 1.34, 103.71],
  ['australia-southeast1', 'Sydney', 'AU', -33.87, 151.21],
];

// Azure names a state or country for some regions rather than a city; the point is its own published one.
const AZURE: readonly Row[] = [
  ['eastus', 'Virginia', 'US', 37.37, -79.82],
  ['eastus2', 'Boydton, Virginia', 'US', 36.67, -78.39],
  ['centralus', 'Des Moines, Iowa', 'US', 41.59, -93.62],
  ['westus', 'San Francisco, California', 'US', 37.78, -122.42],
  ['westus2', 'Quincy, Washington', 'US', 47.23, -119.85],
  ['canadacentral', 'Toronto', 'CA', 43.65, -79.38],
  ['brazilsouth', 'São Paulo', 'BR', -23.55, -46.63],
  ['westeurope', 'Amsterdam', 'NL', 52.37, 4.9],
  ['northeurope', 'Dublin', 'IE', 53.35, -6.26],
  ['uksouth', 'London', 'GB', 51.51, -0.13],
  ['francecentral', 'Paris', 'FR', 48.86, 2.35],
  ['germanywestcentral', 'Frankfurt', 'DE', 50.11, 8.68],
  ['switzerlandnorth', 'Zurich', 'CH', 47.45, 8.56],
  ['norwayeast', 'Oslo', 'NO', 59.91, 10.75],
  ['swedencentral', 'Gävle', 'SE', 60.67, 17.14],
  ['uaenorth', 'Dubai', 'AE', 25.27, 55.32],
  ['southafricanorth', 'Johannesburg', 'ZA', -26.2, 28.05],
  ['centralindia', 'Pune', 'IN', 18.58, 73.92],
  ['eastasia', 'Hong Kong', 'HK', 22.27, 114.19],
  ['southeastasia', 'Singapore', 'SG', 1.28, 103.83],
  ['japaneast', 'Tokyo', 'JP', 35.68, 139.77],
  ['koreacentral', 'Seoul', 'KR', 37.57, 126.98],
  ['australiaeast', 'Sydney', 'AU', -33.86, 151.21],
];

const HETZNER: readonly Row[] = [
  ['fsn1', 'Falkenstein', 'DE', 50.48, 12.37],
  ['nbg1', 'Nuremberg', 'DE', 49.45, 11.08],
  ['hel1', 'Tuusula, Helsinki', 'FI', 60.4, 25.03],
  ['ash', 'Ashburn, Virginia', 'US', 39.04, -77.49],
  ['hil', 'Hillsboro, Oregon', 'US', 45.52, -122.99],
  ['sin', 'Singapore', 'SG', 1.35, 103.82],
];

function buildTable(byProvider: Readonly<Record<string, readonly Row[]>>): Readonly<Record<string, KnownRegion>> {
  const table: Record<string, KnownRegion> = {};
  for (const [provider, rows] of Object.entries(byProvider)) {
    for (const [region, city, jurisdiction, lat, lon] of rows) {
      // The table is keyed by region name alone, so two providers must never share one.
      if (Object.hasOwn(table, region)) throw new AtollError('internal', `known region ${region} is listed twice`);
      table[region] = Object.freeze({ lat, lon, jurisdiction, city, provider });
    }
  }
  return Object.freeze(table);
}

/** Public cloud regions by name, provider by provider, with their city, country and coordinates. */
export const KNOWN_REGIONS: Readonly<Record<string, KnownRegion>> = buildTable({ aws: AWS, gcp: GCP, azure: AZURE, hetzner: HETZNER });

/** The known region called `name` (exact, case-sensitive), or undefined. */
export function lookupRegion(name: string): KnownRegion | undefined {
  // hasOwn: `constructor` or `toString` are not regions.
  return Object.hasOwn(KNOWN_REGIONS, name) ? KNOWN_REGIONS[name] : undefined;
}
