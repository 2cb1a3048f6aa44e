import { describe, expect, it } from 'vitest';
import type { PlacementSpecInput } from '../../core/placement-spec.js';
import { parsePolicySpec, type PolicySpec } from '../../core/policy-spec.js';
import { Cycle } from '../framework/cycle-state.js';
import type { Status } from '../framework/status.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { residencyFilter } from './residency-filter.js';

const DACH_GROUPS = parsePolicySpec({ name: 'groups', jurisdictionGroups: { DACH: ['DE', 'AT', 'CH'] } });

function residencyOf(jurisdiction: string | null, placement: PlacementSpecInput, policies: readonly PolicySpec[] = []): Status {
  const builder = aNode().named('n');
  const node = (jurisdiction === null ? builder : builder.inJurisdiction(jurisdiction)).build();
  const task = aRequest().withPlacement(placement).build();
  return residencyFilter.filter(new Cycle(aSnapshot([node], 0, { policies })), task, node);
}

const rejected = (summary: string, message: string): Status => ({ code: 'unschedulable', reason: 'jurisdiction_not_allowed', summary, message });
const PASS: Status = { code: 'success' };

describe('residencyFilter', () => {
  it.each<{ name: string; jurisdiction: string | null; placement: PlacementSpecInput; policies?: readonly PolicySpec[]; expected: Status }>([
    { name: 'no residency lets any node in', jurisdiction: 'US', placement: {}, expected: PASS },
    { name: 'no residency lets a node without jurisdiction in', jurisdiction: null, placement: {}, expected: PASS },
    { name: 'DE is in EU', jurisdiction: 'DE', placement: { residency: ['EU'] }, expected: PASS },
    { name: 'GR is in EU', jurisdiction: 'GR', placement: { residency: ['EU'] }, expected: PASS },
    {
      name: 'US is not in EU',
      jurisdiction: 'US',
      placement: { residency: ['EU'] },
      expected: rejected('jurisdiction not in [EU]', 'node is in US; the job allows only [EU]'),
    },
    {
      name: 'GB is not in EU',
      jurisdiction: 'GB',
      placement: { residency: ['EU'] },
      expected: rejected('jurisdiction not in [EU]', 'node is in GB; the job allows only [EU]'),
    },
    {
      name: 'CH is not in EU',
      jurisdiction: 'CH',
      placement: { residency: ['EU'] },
      expected: rejected('jurisdiction not in [EU]', 'node is in CH; the job allows only [EU]'),
    },
    { name: 'NO is in EEA', jurisdiction: 'NO', placement: { residency: ['EEA'] }, expected: PASS },
    {
      name: 'a node without jurisdiction never satisfies residency',
      jurisdiction: null,
      placement: { residency: ['EU'] },
      expected: rejected('jurisdiction not in [EU]', 'node declares no jurisdiction; the job allows only [EU]'),
    },
    { name: 'a plain code', jurisdiction: 'FR', placement: { residency: ['FR'] }, expected: PASS },
    {
      name: 'a plain code excludes its neighbours',
      jurisdiction: 'BE',
      placement: { residency: ['FR'] },
      expected: rejected('jurisdiction not in [FR]', 'node is in BE; the job allows only [FR]'),
    },
    { name: 'codes and groups mixed: member of the group', jurisdiction: 'IT', placement: { residency: ['EU', 'CH'] }, expected: PASS },
    { name: 'codes and groups mixed: the extra code', jurisdiction: 'CH', placement: { residency: ['EU', 'CH'] }, expected: PASS },
    {
      name: 'codes and groups mixed: neither',
      jurisdiction: 'NO',
      placement: { residency: ['EU', 'CH'] },
      expected: rejected('jurisdiction not in [EU, CH]', 'node is in NO; the job allows only [EU, CH]'),
    },
    { name: 'US group holds its territories', jurisdiction: 'PR', placement: { residency: ['US'] }, expected: PASS },
    { name: 'policy group DACH holds CH', jurisdiction: 'CH', placement: { residency: ['DACH'] }, policies: [DACH_GROUPS], expected: PASS },
    { name: 'policy group DACH holds AT', jurisdiction: 'AT', placement: { residency: ['DACH'] }, policies: [DACH_GROUPS], expected: PASS },
    {
      name: 'policy group DACH excludes FR',
      jurisdiction: 'FR',
      placement: { residency: ['DACH'] },
      policies: [DACH_GROUPS],
      expected: rejected('jurisdiction not in [DACH]', 'node is in FR; the job allows only [DACH]'),
    },
    { name: 'policy group mixed with a code', jurisdiction: 'LU', placement: { residency: ['DACH', 'LU'] }, policies: [DACH_GROUPS], expected: PASS },
    {
      // The policy defining the group is gone: the job may run in fewer places, never more.
      name: 'a group no policy defines any more allows nothing',
      jurisdiction: 'DE',
      placement: { residency: ['DACH'] },
      expected: rejected('jurisdiction not in [DACH]', 'node is in DE; the job allows only [DACH]'),
    },
    {
      name: 'a deleted group leaves the rest of the list in force',
      jurisdiction: 'LU',
      placement: { residency: ['DACH', 'LU'] },
      expected: PASS,
    },
    {
      name: 'a deleted group does not let its old members in through the rest of the list',
      jurisdiction: 'AT',
      placement: { residency: ['DACH', 'LU'] },
      expected: rejected('jurisdiction not in [DACH, LU]', 'node is in AT; the job allows only [DACH, LU]'),
    },
  ])('$name', ({ jurisdiction, placement, policies, expected }) => {
    expect(residencyOf(jurisdiction, placement, policies)).toEqual(expected);
  });

  it('gives nodes that fail the same rule the same summary, so they are counted together', () => {
    const us = aNode().named('us').inJurisdiction('US').build();
    const jp = aNode().named('jp').inJurisdiction('JP').build();
    const none = aNode().named('none').build();
    const cycle = new Cycle(aSnapshot([us, jp, none]));
    const task = aRequest().withPlacement({ residency: ['EU'] }).build();
    const statuses = [us, jp, none].map((node) => residencyFilter.filter(cycle, task, node));
    expect(statuses.map((s) => (s.code === 'unschedulable' ? s.summary : s.code))).toEqual([
      'jurisdiction not in [EU]',
      'jurisdiction not in [EU]',
      'jurisdiction not in [EU]',
    ]);
    expect(statuses.map((s) => (s.code === 'unschedulable' ? s.message : s.code))).toEqual([
      'node is in US; the job allows only [EU]',
      'node is in JP; the job allows only [EU]',
      'node declares no jurisdiction; the job allows only [EU]',
    ]);
  });
});
