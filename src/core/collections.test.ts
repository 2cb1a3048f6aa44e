import { describe, expect, it } from 'vitest';
import { chunkByJsonSize, groupBy } from './collections.js';

describe('groupBy', () => {
  it('groups in input order', () => {
    expect([...groupBy(['a1', 'b1', 'a2'], (s) => s[0]!)]).toEqual([
      ['a', ['a1', 'a2']],
      ['b', ['b1']],
    ]);
  });
});

describe('chunkByJsonSize', () => {
  it('keeps every chunk under the limit and loses nothing', () => {
    const items = Array.from({ length: 50 }, (_, i) => ({ i, pad: 'x'.repeat(90) }));
    const chunks = chunkByJsonSize(items, 1000);
    expect(chunks.flat()).toEqual(items);
    for (const chunk of chunks) expect(JSON.stringify(chunk).length).toBeLessThanOrEqual(1000);
    expect(chunks.length).toBeGreaterThan(4);
  });

  it('gives an item larger than the limit a chunk of its own', () => {
    expect(chunkByJsonSize(['small', 'x'.repeat(50), 'tiny'], 20)).toEqual([['small'], ['x'.repeat(50)], ['tiny']]);
  });

  it('returns no chunks for no items', () => {
    expect(chunkByJsonSize([], 10)).toEqual([]);
  });
});
