import { describe, expect, it } from 'vitest';
import { parsePolicySpec, type PolicySpec } from '../../core/policy-spec.js';
import { Cycle } from '../framework/cycle-state.js';
import type { Status } from '../framework/status.js';
import type { TaskInput } from '../framework/snapshot.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { dataResidencyFilter } from './data-residency-filter.js';

const GDPR = parsePolicySpec({ name: 'gdpr', residencyClasses: { 'eu-personal': ['EU', 'EEA'] } });
const STRICT = parsePolicySpec({ name: 'strict', residencyClasses: { 'eu-personal': ['DE', 'US'] } });

type Input = Pick<TaskInput, 'node' | 'bytes'> & Partial<TaskInput>;

function verdict(jurisdiction: string | null, inputs: readonly Input[], policies: readonly PolicySpec[] = [GDPR]): Status {
  const builder = aNode().named('n');
  const node = (jurisdiction === null ? builder : builder.inJurisdiction(jurisdiction)).build();
  const task = aRequest().withInputs(...inputs).build();
  return dataResidencyFilter.filter(new Cycle(aSnapshot([node], 0, { policies })), task, node);
}

const PASS: Status = { code: 'success' };
const eu = (partition = 'berlin'): Input => ({ node: 'holder', bytes: 10, dataset: 'readings', partition, residencyClass: 'eu-personal' });

describe('dataResidencyFilter', () => {
  it.each<{ name: string; jurisdiction: string | null; inputs: readonly Input[]; policies?: readonly PolicySpec[]; expected: Status }>([
    { name: 'a task without inputs goes anywhere', jurisdiction: 'US', inputs: [], expected: PASS },
    { name: 'inputs without a class go anywhere', jurisdiction: 'US', inputs: [{ node: 'h', bytes: 1 }], expected: PASS },
    { name: 'EU data may be read in DE', jurisdiction: 'DE', inputs: [eu()], expected: PASS },
    { name: 'EEA data may be read in NO', jurisdiction: 'NO', inputs: [eu()], expected: PASS },
    {
      name: 'EU data may not be read in the US',
      jurisdiction: 'US',
      inputs: [{ node: 'h', bytes: 1 }, eu('paris')],
      expected: { code: 'unschedulable', reason: 'data_residency', summary: 'data class eu-personal not allowed', message: expect.stringContaining('node is in US; input readings/paris has residency class eu-personal, which policy gdpr allows only in [AT,') as unknown as string },
    },
    {
      name: 'a node without a jurisdiction reads no classed data',
      jurisdiction: null,
      inputs: [eu()],
      expected: { code: 'unschedulable', reason: 'data_residency', summary: 'data class eu-personal not allowed', message: expect.stringContaining('node is in no jurisdiction') as unknown as string },
    },
    {
      name: 'a class two policies define is read only where both allow',
      jurisdiction: 'US',
      inputs: [eu()],
      policies: [GDPR, STRICT],
      expected: { code: 'unschedulable', reason: 'data_residency', summary: 'data class eu-personal not allowed', message: expect.stringContaining('policy gdpr+strict allows only in [DE]') as unknown as string },
    },
    {
      name: 'a class no policy defines rules out every node',
      jurisdiction: 'DE',
      inputs: [eu()],
      policies: [],
      expected: { code: 'unschedulable', reason: 'data_residency', summary: 'data class eu-personal unknown', message: 'input readings/berlin has residency class eu-personal, which no policy defines' },
    },
    {
      name: 'an input gone from the catalog rules out every node',
      jurisdiction: 'DE',
      inputs: [{ node: '', bytes: 0, dataset: 'readings', partition: 'lost', missing: true }],
      expected: { code: 'unschedulable', reason: 'input_missing', summary: 'input readings/lost missing', message: 'input readings/lost is no longer in the data catalog; put it back or cancel the job' },
    },
  ])('$name', ({ jurisdiction, inputs, policies, expected }) => {
    expect(verdict(jurisdiction, inputs, policies)).toEqual(expected);
  });
});
