import { describe, expect, it } from 'vitest';
import { claimProblem, describeScope } from './join-scope.js';

describe('join scope', () => {
  const scoped = { pool: 'edge', labels: { site: 'shop-1' } };

  it.each([
    ['any labels under an unscoped token', { pool: null, labels: {} }, { pool: 'x', gpu: 'true' }, undefined],
    ['the pool and listed labels', scoped, { pool: 'edge', site: 'shop-1' }, undefined],
    ['the pool alone', scoped, { pool: 'edge' }, undefined],
    ["the agent's own atoll.dev/ labels", scoped, { pool: 'edge', 'atoll.dev/sandbox': 'bwrap' }, undefined],
    ['no pool label', scoped, { site: 'shop-1' }, 'expected label pool=edge, got no pool label'],
    ['another pool', scoped, { pool: 'cloud' }, 'expected label pool=edge, got pool=cloud'],
    ['a listed label with another value', scoped, { pool: 'edge', site: 'shop-2' }, 'label site=shop-2 is not one the token allows (allowed: site=shop-1)'],
    ['an unlisted label', scoped, { pool: 'edge', gpu: 'true' }, 'label gpu=true is not one the token allows (allowed: site=shop-1)'],
    ['a pool label under a labels-only token', { pool: null, labels: { site: 'a' } }, { pool: 'edge' }, 'label pool=edge is not one the token allows (allowed: site=a)'],
  ])('%s', (_label, scope, labels, problem) => {
    expect(claimProblem(scope, labels)).toBe(problem);
  });

  it('describes a scope for error messages', () => {
    expect(describeScope({ pool: null, labels: {} })).toBe('unscoped');
    expect(describeScope(scoped)).toBe('pool edge, labels site=shop-1');
  });
});
