import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

/** The waits `count` calls of next() return. */
function waits(backoff: Backoff, count: number): number[] {
  return Array.from({ length: count }, () => backoff.next());
}

const almostOne = 1 - 2 ** -53;

describe('Backoff', () => {
  it('doubles the ceiling on each failure up to the maximum', () => {
    expect(waits(new Backoff(200, 10_000, () => almostOne), 9)).toEqual([200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
  });

  it.each<{ name: string; base: number; max: number; random: number; expected: number[] }>([
    { name: 'half of each ceiling', base: 100, max: 1000, random: 0.5, expected: [50, 100, 200, 400, 500, 500] },
    { name: 'a quarter, with the 20 ms floor', base: 40, max: 10_000, random: 0.25, expected: [20, 20, 40, 80, 160] },
    { name: 'zero random hits the floor', base: 200, max: 10_000, random: 0, expected: [20, 20, 20, 20] },
    { name: 'max below base caps from the start', base: 1000, max: 300, random: almostOne, expected: [300, 300, 300] },
  ])('$name', ({ base, max, random, expected }) => {
    expect(waits(new Backoff(base, max, () => random), expected.length)).toEqual(expected);
  });

  it('starts over after reset', () => {
    const backoff = new Backoff(100, 100_000, () => almostOne);
    expect(waits(backoff, 4)).toEqual([100, 200, 400, 800]);
    backoff.reset();
    expect(waits(backoff, 2)).toEqual([100, 200]);
  });

  it('uses the defaults of 200 ms base and 10 s cap', () => {
    const backoff = new Backoff(undefined, undefined, () => almostOne);
    const seen = waits(backoff, 12);
    expect(seen[0]).toBe(200);
    expect(Math.max(...seen)).toBe(10_000);
  });

  it('stays finite after very many failures', () => {
    const backoff = new Backoff(200, 10_000, () => almostOne);
    const seen = waits(backoff, 2000);
    expect(seen.at(-1)).toBe(10_000);
    expect(seen.every(Number.isFinite)).toBe(true);
  });

  it('asks the injected random once per wait', () => {
    let calls = 0;
    const backoff = new Backoff(200, 10_000, () => {
      calls += 1;
      return 0.5;
    });
    waits(backoff, 5);
    expect(calls).toBe(5);
  });

  it('keeps every wait within [20, min(max, base * 2^n)] for any random values', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 40 }),
        (base, max, randoms) => {
          let i = 0;
          const backoff = new Backoff(base, max, () => randoms[i++ % randoms.length] as number);
          for (let n = 0; n < randoms.length; n += 1) {
            const ceiling = Math.min(max, base * 2 ** n);
            const wait = backoff.next();
            expect(wait).toBeGreaterThanOrEqual(20);
            expect(wait).toBeLessThanOrEqual(Math.max(20, ceiling));
            expect(Number.isInteger(wait)).toBe(true);
          }
        },
      ),
    );
  });
});
