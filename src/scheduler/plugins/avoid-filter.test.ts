import { describe, expect, it } from 'vitest';
import { DEFAULT_PLACEMENT, type PlacementSpecInput } from '../../core/placement-spec.js';
import { parsePolicySpec, type PolicySpec } from '../../core/policy-spec.js';
import { Cycle } from '../framework/cycle-state.js';
import type { SnapshotNode } from '../framework/snapshot.js';
import type { Status } from '../framework/status.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { avoidFilter } from './avoid-filter.js';

const DACH_GROUPS = parsePolicySpec({ name: 'groups', jurisdictionGroups: { DACH: ['DE', 'AT', 'CH'] } });

// A node in Paris on AWS, unless a row says otherwise.
const paris = (): ReturnType<typeof aNode> => aNode().named('n').inJurisdiction('FR').inProvider('aws').inRegion('eu-west-3').atSite('paris-1');

const avoided = (summary: string, message: string): Status => ({ code: 'unschedulable', reason: 'avoided', summary, message });
const PASS: Status = { code: 'success' };

function avoidOf(node: SnapshotNode, placement: PlacementSpecInput, policies: readonly PolicySpec[] = []): Status {
  const task = aRequest().withPlacement(placement).build();
  return avoidFilter.filter(new Cycle(aSnapshot([node], 0, { policies })), task, node);
}

describe('avoidFilter', () => {
  it.each<{ name: string; node: SnapshotNode; placement: PlacementSpecInput; policies?: readonly PolicySpec[]; expected: Status }>([
    { name: 'no avoid', node: paris().build(), placement: {}, expected: PASS },
    { name: 'empty avoid', node: paris().build(), placement: { avoid: {} }, expected: PASS },
    {
      name: 'avoided jurisdiction code',
      node: paris().build(),
      placement: { avoid: { jurisdictions: ['FR'] } },
      expected: avoided('avoided jurisdiction FR', 'placement.avoid.jurisdictions excludes FR'),
    },
    { name: 'another jurisdiction code', node: paris().build(), placement: { avoid: { jurisdictions: ['DE'] } }, expected: PASS },
    {
      name: 'avoided jurisdiction group EU',
      node: paris().build(),
      placement: { avoid: { jurisdictions: ['EU'] } },
      expected: avoided('avoided jurisdiction FR', 'placement.avoid.jurisdictions excludes FR'),
    },
    { name: 'a node outside the avoided group', node: paris().inJurisdiction('CH').build(), placement: { avoid: { jurisdictions: ['EU'] } }, expected: PASS },
    {
      name: 'a policy group is expanded',
      node: paris().inJurisdiction('AT').build(),
      placement: { avoid: { jurisdictions: ['DACH'] } },
      policies: [DACH_GROUPS],
      expected: avoided('avoided jurisdiction AT', 'placement.avoid.jurisdictions excludes AT'),
    },
    {
      name: 'a node without jurisdiction when jurisdictions are avoided',
      node: aNode().named('n').inProvider('aws').build(),
      placement: { avoid: { jurisdictions: ['US'] } },
      expected: avoided('avoided: no declared jurisdiction', 'node declares no jurisdiction, so it cannot be shown to be outside placement.avoid.jurisdictions'),
    },
    { name: 'a node without jurisdiction when only providers are avoided', node: aNode().named('n').inProvider('gcp').build(), placement: { avoid: { providers: ['aws'] } }, expected: PASS },
    {
      name: 'avoided provider',
      node: paris().build(),
      placement: { avoid: { providers: ['gcp', 'aws'] } },
      expected: avoided('avoided provider aws', 'placement.avoid.providers excludes aws'),
    },
    { name: 'another provider', node: paris().build(), placement: { avoid: { providers: ['gcp'] } }, expected: PASS },
    {
      name: 'avoided region',
      node: paris().build(),
      placement: { avoid: { regions: ['eu-west-3'] } },
      expected: avoided('avoided region eu-west-3', 'placement.avoid.regions excludes eu-west-3'),
    },
    { name: 'region names match exactly', node: paris().build(), placement: { avoid: { regions: ['eu-west'] } }, expected: PASS },
    {
      name: 'avoided site',
      node: paris().build(),
      placement: { avoid: { sites: ['paris-1'] } },
      expected: avoided('avoided site paris-1', 'placement.avoid.sites excludes paris-1'),
    },
    { name: 'another site', node: paris().build(), placement: { avoid: { sites: ['paris-2'] } }, expected: PASS },
    { name: 'a node without site when sites are avoided', node: paris().atSite('').build(), placement: { avoid: { sites: ['paris-1'] } }, expected: PASS },
    {
      name: 'jurisdiction is named before provider, region and site',
      node: paris().build(),
      placement: { avoid: { jurisdictions: ['FR'], providers: ['aws'], regions: ['eu-west-3'], sites: ['paris-1'] } },
      expected: avoided('avoided jurisdiction FR', 'placement.avoid.jurisdictions excludes FR'),
    },
    {
      name: 'provider is named before region and site',
      node: paris().build(),
      placement: { avoid: { providers: ['aws'], regions: ['eu-west-3'], sites: ['paris-1'] } },
      expected: avoided('avoided provider aws', 'placement.avoid.providers excludes aws'),
    },
    {
      name: 'region is named before site',
      node: paris().build(),
      placement: { avoid: { regions: ['eu-west-3'], sites: ['paris-1'] } },
      expected: avoided('avoided region eu-west-3', 'placement.avoid.regions excludes eu-west-3'),
    },
  ])('$name', ({ node, placement, policies, expected }) => {
    expect(avoidOf(node, placement, policies)).toEqual(expected);
  });

  it('never matches the empty site of a node that has none, even if the list holds it', () => {
    // The schema refuses '' in avoid.sites; the filter must not rely on that.
    const node = paris().atSite('').build();
    const task = { ...aRequest().build(), placement: { ...DEFAULT_PLACEMENT, avoid: { jurisdictions: [], providers: [], regions: [], sites: [''] } } };
    expect(avoidFilter.filter(new Cycle(aSnapshot([node])), task, node)).toEqual(PASS);
  });

  // Deleting the policy that defined DACH must not let a job that avoided DACH run in DE again:
  // the group's members are unknown now, so no node can be shown to be outside it (invariant 1).
  it.each<{ name: string; node: SnapshotNode; avoid: string[] }>([
    { name: 'a former member', node: paris().inJurisdiction('DE').build(), avoid: ['DACH'] },
    { name: 'a node that was never a member', node: paris().inJurisdiction('JP').build(), avoid: ['DACH'] },
    { name: 'a node without jurisdiction', node: aNode().named('n').build(), avoid: ['DACH'] },
    { name: 'a node outside the known names of the list', node: paris().inJurisdiction('JP').build(), avoid: ['US', 'DACH'] },
  ])('a group no policy defines any more blocks every node: $name', ({ node, avoid }) => {
    expect(avoidOf(node, { avoid: { jurisdictions: avoid } }, [])).toEqual(
      avoided('avoids unknown jurisdiction DACH', 'placement.avoid.jurisdictions names DACH, which no policy defines any more; no node can be shown to be outside it'),
    );
  });
});
