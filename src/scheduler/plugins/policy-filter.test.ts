import { describe, expect, it } from 'vitest';
import { parsePolicySpec, type PolicySpec } from '../../core/policy-spec.js';
import { Cycle } from '../framework/cycle-state.js';
import type { SnapshotNode } from '../framework/snapshot.js';
import type { Status } from '../framework/status.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { policyFilter } from './policy-filter.js';

const financeGdpr = parsePolicySpec({ name: 'gdpr', namespaces: ['finance'], denyJurisdictions: ['US'] });
const clusterGdpr = parsePolicySpec({ name: 'gdpr-all', denyJurisdictions: ['US', 'CN'] });
const denyEuGroup = parsePolicySpec({ name: 'no-eu', namespaces: ['finance'], denyJurisdictions: ['EU'] });
const awsOnly = parsePolicySpec({ name: 'aws-only', allowProviders: ['aws'] });
const bigClouds = parsePolicySpec({ name: 'big-clouds', namespaces: ['finance'], allowProviders: ['aws', 'gcp'] });
const groups = parsePolicySpec({ name: 'groups', jurisdictionGroups: { DACH: ['DE', 'AT', 'CH'] } });
const noDach = parsePolicySpec({ name: 'no-dach', denyJurisdictions: ['DACH'] });

const node = (jurisdiction: string | null, provider = 'aws'): SnapshotNode => {
  const builder = aNode().named('n').inProvider(provider);
  return (jurisdiction === null ? builder : builder.inJurisdiction(jurisdiction)).build();
};

const denied = (policy: string, message: string): Status => ({ code: 'unschedulable', reason: 'policy_denied', summary: `denied by policy ${policy}`, message });
const PASS: Status = { code: 'success' };

describe('policyFilter', () => {
  it.each<{ name: string; policies: readonly PolicySpec[]; namespace: string; node: SnapshotNode; expected: Status }>([
    { name: 'no policies', policies: [], namespace: 'finance', node: node('US'), expected: PASS },
    { name: 'bound namespace, allowed jurisdiction', policies: [financeGdpr], namespace: 'finance', node: node('DE'), expected: PASS },
    {
      name: 'bound namespace, denied jurisdiction',
      policies: [financeGdpr],
      namespace: 'finance',
      node: node('US'),
      expected: denied('gdpr', 'policy "gdpr" denies US for namespace finance'),
    },
    { name: 'a namespace the policy does not bind', policies: [financeGdpr], namespace: 'marketing', node: node('US'), expected: PASS },
    {
      name: 'cluster-wide deny binds every namespace',
      policies: [clusterGdpr],
      namespace: 'marketing',
      node: node('CN'),
      expected: denied('gdpr-all', 'policy "gdpr-all" denies CN for namespace marketing'),
    },
    { name: 'cluster-wide deny lets other jurisdictions in', policies: [clusterGdpr], namespace: 'marketing', node: node('JP'), expected: PASS },
    {
      name: 'a denied group is expanded',
      policies: [denyEuGroup],
      namespace: 'finance',
      node: node('IE'),
      expected: denied('no-eu', 'policy "no-eu" denies IE for namespace finance'),
    },
    {
      name: 'the US group denies its territories',
      policies: [financeGdpr],
      namespace: 'finance',
      node: node('PR'),
      expected: denied('gdpr', 'policy "gdpr" denies PR for namespace finance'),
    },
    {
      name: 'a group from another policy is expanded',
      policies: [groups, noDach],
      namespace: 'default',
      node: node('CH'),
      expected: denied('no-dach', 'policy "no-dach" denies CH for namespace default'),
    },
    {
      name: 'a node without jurisdiction is denied under a deny policy',
      policies: [financeGdpr],
      namespace: 'finance',
      node: node(null),
      expected: denied('gdpr', 'policy "gdpr" denies no declared jurisdiction for namespace finance'),
    },
    { name: 'a node without jurisdiction where no deny binds', policies: [financeGdpr], namespace: 'default', node: node(null), expected: PASS },
    { name: 'allowed provider', policies: [awsOnly], namespace: 'default', node: node('DE', 'aws'), expected: PASS },
    {
      name: 'provider not on the allow-list',
      policies: [awsOnly],
      namespace: 'default',
      node: node('DE', 'hetzner'),
      expected: denied('aws-only', 'policy "aws-only" allows only providers aws for namespace default; node is on hetzner'),
    },
    {
      name: 'allow-list of several providers',
      policies: [bigClouds],
      namespace: 'finance',
      node: node('DE', 'azure'),
      expected: denied('big-clouds', 'policy "big-clouds" allows only providers aws, gcp for namespace finance; node is on azure'),
    },
    { name: 'allow-list bound to another namespace', policies: [bigClouds], namespace: 'default', node: node('DE', 'azure'), expected: PASS },
    { name: 'two policies, both satisfied', policies: [financeGdpr, awsOnly], namespace: 'finance', node: node('DE', 'aws'), expected: PASS },
    {
      name: 'two policies, the deny one fails',
      policies: [financeGdpr, awsOnly],
      namespace: 'finance',
      node: node('US', 'aws'),
      expected: denied('gdpr', 'policy "gdpr" denies US for namespace finance'),
    },
    {
      name: 'two policies, the allow-list fails',
      policies: [financeGdpr, awsOnly],
      namespace: 'finance',
      node: node('DE', 'gcp'),
      expected: denied('aws-only', 'policy "aws-only" allows only providers aws for namespace finance; node is on gcp'),
    },
    {
      name: 'two allow-lists: a provider must be on both',
      policies: [bigClouds, awsOnly],
      namespace: 'finance',
      node: node('DE', 'gcp'),
      expected: denied('aws-only', 'policy "aws-only" allows only providers aws for namespace finance; node is on gcp'),
    },
    {
      name: 'two deny policies: the first that denies is named',
      policies: [clusterGdpr, financeGdpr],
      namespace: 'finance',
      node: node('US'),
      expected: denied('gdpr-all', 'policy "gdpr-all" denies US for namespace finance'),
    },
  ])('$name', ({ policies, namespace, node: n, expected }) => {
    const task = aRequest().inNamespace(namespace).build();
    expect(policyFilter.filter(new Cycle(aSnapshot([n], 0, { policies })), task, n)).toEqual(expected);
  });

  it('a job cannot loosen a policy: its own residency does not matter', () => {
    const us = node('US');
    const task = aRequest().inNamespace('finance').withPlacement({ residency: ['US'] }).build();
    expect(policyFilter.filter(new Cycle(aSnapshot([us], 0, { policies: [financeGdpr] })), task, us)).toEqual(
      denied('gdpr', 'policy "gdpr" denies US for namespace finance'),
    );
  });
});
