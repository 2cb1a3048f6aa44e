import { describe, expect, it } from 'vitest';
import { StartGate } from './start-gate.js';

describe('StartGate', () => {
  it('lets `limit` in at once and the rest in arrival order as places are given back', async () => {
    const gate = new StartGate(2);
    const order: number[] = [];
    const releases = await Promise.all([gate.acquire(), gate.acquire()]);
    const third = gate.acquire().then((release) => (order.push(3), release));
    const fourth = gate.acquire().then((release) => (order.push(4), release));
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual([]);
    releases[0]!();
    releases[0]!(); // a second call gives back nothing more
    await third;
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual([3]);
    releases[1]!();
    (await fourth)();
    expect(order).toEqual([3, 4]);
  });

  it('refuses a limit below one', () => {
    expect(() => new StartGate(0)).toThrow('limit must be a whole number >= 1, got 0');
  });
});
