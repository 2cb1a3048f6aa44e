import { geoGraticule10, geoNaturalEarth1, geoPath } from 'd3-geo';
import { useMemo, useState } from 'react';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import countries110m from 'world-atlas/countries-110m.json';
import type { FleetSummary, SiteSummary } from '../../../src/core/fleet-summary';
import { clusterMarkers, type Marker } from './sites';

// The fleet on a world map drawn from Natural Earth's 1:110m countries (world-atlas), bundled with
// the app: no tile server, nothing fetched. One marker per site, coloured by health and sized by
// capacity; sites that would overlap merge into one marker showing how many they are.

const WIDTH = 960;
const HEIGHT = 500;
const MERGE_RADIUS = 14;

const topology = countries110m as unknown as Topology<{ countries: GeometryCollection }>;
const land = feature(topology, topology.objects.countries);
const projection = geoNaturalEarth1().fitExtent([[8, 8], [WIDTH - 8, HEIGHT - 8]], { type: 'Sphere' });
const path = geoPath(projection);
const landPath = path(land) ?? '';
const graticulePath = path(geoGraticule10()) ?? '';
const spherePath = path({ type: 'Sphere' }) ?? '';

function project(lon: number, lat: number): readonly [number, number] | null {
  return projection([lon, lat]) ?? null;
}

function radius(marker: Marker): number {
  // Area grows with capacity: about 7 px for one small node, 20 px for a thousand cores.
  return Math.min(22, 6 + Math.sqrt(marker.cpuMillis / 1000) * 0.45);
}

function describe(marker: Marker): string {
  if (marker.sites.length === 1) {
    const s = marker.sites[0]!;
    return `${s.site} (${s.provider}, ${s.region}${s.jurisdiction ? `, ${s.jurisdiction}` : ''}): ${s.ready} of ${s.nodes} node${s.nodes === 1 ? '' : 's'} ready, ${health(s.health)}`;
  }
  return `${marker.sites.length} sites, ${marker.nodes} nodes, ${health(marker.health)}`;
}

function health(h: Marker['health']): string {
  return h === 'healthy' ? 'healthy' : h === 'down' ? 'unreachable' : 'some nodes not ready';
}

const ZOOMS = [1, 2, 4, 8, 16] as const;

interface View {
  readonly zoom: number;
  /** The map point (in base map pixels) at the centre of the view. */
  readonly cx: number;
  readonly cy: number;
}

const WORLD: View = { zoom: 1, cx: WIDTH / 2, cy: HEIGHT / 2 };

function clampView(view: View): View {
  const halfW = WIDTH / (2 * view.zoom);
  const halfH = HEIGHT / (2 * view.zoom);
  return { zoom: view.zoom, cx: Math.min(WIDTH - halfW, Math.max(halfW, view.cx)), cy: Math.min(HEIGHT - halfH, Math.max(halfH, view.cy)) };
}

/** Transfers between two sites, summed over the recent ones. */
export interface SiteLink {
  readonly from: string;
  readonly to: string;
  readonly transfers: number;
  readonly bytes: number;
}

export function FleetMap({ fleet, links = [] }: { fleet: FleetSummary; links?: readonly SiteLink[] }) {
  const [view, setView] = useState<View>(WORLD);
  const { sites } = fleet;
  const siteByKey = useMemo(() => new Map(sites.map((s) => [s.key, s])), [sites]);
  // Merging is decided on screen: zoomed in, sites that shared a marker get their own.
  const markers = useMemo(() => clusterMarkers(sites, project, MERGE_RADIUS / view.zoom), [sites, view.zoom]);
  const [hovered, setHovered] = useState<Marker | null>(null);
  const k = 1 / view.zoom;
  const zoomTo = (zoom: number, cx = view.cx, cy = view.cy) => setView(clampView({ zoom, cx, cy }));
  const zoomIndex = ZOOMS.indexOf(view.zoom as (typeof ZOOMS)[number]);
  const box = `${(view.cx - WIDTH * k / 2).toFixed(1)} ${(view.cy - HEIGHT * k / 2).toFixed(1)} ${(WIDTH * k).toFixed(1)} ${(HEIGHT * k).toFixed(1)}`;
  return (
    <figure className="fleet-map">
      <div className="map-controls">
        <button type="button" aria-label="Zoom in" disabled={zoomIndex === ZOOMS.length - 1} onClick={() => zoomTo(ZOOMS[zoomIndex + 1]!)}>+</button>
        <button type="button" aria-label="Zoom out" disabled={zoomIndex === 0} onClick={() => zoomTo(ZOOMS[zoomIndex - 1]!)}>−</button>
        <button type="button" aria-label="Show the whole world" disabled={view.zoom === 1} onClick={() => setView(WORLD)}>World</button>
      </div>
      <svg viewBox={box} role="group" aria-label={`World map of ${markers.length} site markers`} data-zoom={view.zoom}>
        <path d={spherePath} className="map-sphere" />
        <path d={graticulePath} className="map-graticule" />
        <path d={landPath} className="map-land" />
        {links.map((link) => <TransferLine key={`${link.from}>${link.to}`} link={link} sites={siteByKey} zoom={view.zoom} />)}
        {markers.map((m) => (
          <g
            key={m.sites.map((s) => s.key).join('|')}
            className={`map-marker health-${m.health}`}
            data-sites={m.sites.length}
            data-testid="site-marker"
            transform={`translate(${m.x.toFixed(1)},${m.y.toFixed(1)}) scale(${k})`}
            tabIndex={0}
            role="img"
            aria-label={describe(m)}
            onMouseEnter={() => setHovered(m)}
            onMouseLeave={() => setHovered(null)}
            onFocus={() => setHovered(m)}
            onBlur={() => setHovered(null)}
            onClick={() => m.sites.length > 1 && zoomTo(ZOOMS[Math.min(ZOOMS.length - 1, zoomIndex + 2)]!, m.x, m.y)}
            onKeyDown={(e) => {
              if ((e.key === 'Enter' || e.key === ' ') && m.sites.length > 1) {
                e.preventDefault();
                zoomTo(ZOOMS[Math.min(ZOOMS.length - 1, zoomIndex + 2)]!, m.x, m.y);
              }
            }}
          >
            <circle r={radius(m)} />
            {m.sites.length > 1 && <text dy="0.35em">{m.sites.length}</text>}
          </g>
        ))}
      </svg>
      {hovered && <MarkerDetails marker={hovered} view={view} />}
      <figcaption>
        {markers.some((m) => m.sites.length > 1) && 'Numbered markers are several sites close together: click one to zoom in. '}
        {markers.length === 0 ? 'No node has reported where it is yet: give agents --lat/--lon (or geo in node.yaml).' : `${fleet.nodes - fleet.unplaced} nodes at ${sites.length} sites`}
        {fleet.unplaced > 0 && ` · ${fleet.unplaced} without coordinates`}
      </figcaption>
    </figure>
  );
}

function MarkerDetails({ marker, view }: { marker: Marker; view: View }) {
  // Where the marker is on screen, as a share of the map's box.
  const left = `${(((marker.x - view.cx) * view.zoom + WIDTH / 2) / WIDTH) * 100}%`;
  const top = `${(((marker.y - view.cy) * view.zoom + HEIGHT / 2) / HEIGHT) * 100}%`;
  return (
    <div className="map-tooltip" role="tooltip" style={{ left, top }}>
      {marker.sites.slice(0, 6).map((s) => (
        <div key={s.key}>
          <strong>{s.site}</strong>
          <div>{s.provider} · {s.region}{s.jurisdiction ? ` · ${s.jurisdiction}` : ''}</div>
          <div>{s.ready}/{s.nodes} nodes ready · {s.runningAttempts} tasks · load {s.cpuMillis === 0 ? 0 : Math.round((s.usedCpuMillis / s.cpuMillis) * 100)}%</div>
        </div>
      ))}
      {marker.sites.length > 6 && <div>and {marker.sites.length - 6} more sites</div>}
    </div>
  );
}

function TransferLine({ link, sites, zoom }: { link: SiteLink; sites: ReadonlyMap<string, SiteSummary>; zoom: number }) {
  const from = sites.get(link.from);
  const to = sites.get(link.to);
  if (from === undefined || to === undefined) return null;
  // The great circle between the sites, as a flight map draws it; thicker for more bytes.
  const d = path({ type: 'LineString', coordinates: [[from.lon, from.lat], [to.lon, to.lat]] });
  if (d === null) return null;
  const width = (1.2 + Math.min(4, Math.log10(1 + link.bytes / 1e6))) / zoom;
  return (
    <path d={d} className="map-transfer" data-testid="transfer-line" style={{ strokeWidth: width }}>
      <title>{`${from.site || from.region} → ${to.site || to.region}: ${link.transfers} transfer${link.transfers === 1 ? '' : 's'}, ${link.bytes} bytes`}</title>
    </path>
  );
}
