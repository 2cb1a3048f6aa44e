import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NodeHeap } from './node-heap.js';

describe('NodeHeap', () => {
  it('pops by key, highest first, and by rank among equal keys', () => {
    const key = Float64Array.from([5, 9, 5, 1]);
    const rank = Int32Array.from([3, 0, 1, 2]);
    const heap = new NodeHeap(new Int32Array(4), key, rank);
    for (const i of [0, 1, 2, 3]) heap.push(i);
    expect([heap.pop(), heap.pop(), heap.pop(), heap.pop(), heap.pop()]).toEqual([1, 2, 0, 3, -1]);
  });

  it('orders like a sort for any keys, whether built by push or by heapify', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 60 }), (values) => {
        const key = Float64Array.from(values);
        const rank = Int32Array.from(values.map((_, i) => values.length - i));
        const expected = values.map((_, i) => i).sort((a, b) => key[b]! - key[a]! || rank[a]! - rank[b]!);
        const pushed = new NodeHeap(new Int32Array(values.length), key, rank);
        const heapified = new NodeHeap(new Int32Array(values.length), key, rank);
        values.forEach((_, i) => {
          pushed.push(i);
          heapified.append(i);
        });
        heapified.heapify();
        const drain = (heap: NodeHeap) => Array.from({ length: values.length }, () => heap.pop());
        expect(drain(pushed)).toEqual(expected);
        expect(drain(heapified)).toEqual(expected);
      }),
    );
  });

  it('re-sorts the top after its key falls', () => {
    const key = Float64Array.from([10, 8, 6]);
    const heap = new NodeHeap(new Int32Array(3), key, Int32Array.from([0, 1, 2]));
    for (const i of [0, 1, 2]) heap.push(i);
    key[0] = 7;
    heap.topDecreased();
    expect([heap.pop(), heap.pop(), heap.pop()]).toEqual([1, 0, 2]);
  });
});
