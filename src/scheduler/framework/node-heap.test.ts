import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NodeHeap } from './node-heap.js';

describe('NodeHeap', () => {
  it('pops by key, highest first, and by rank among equal keys', () => {
    const key = Float64Array.from([5, 9, 5, 1]);
    const rank = Int32Array.from([3, 0, 1, 2]);
    const heap = new NodeHeap(new Int32Array(4), key, rank, new Int32Array(4).fill(-1));
    for (const i of [0, 1, 2, 3]) heap.push(i);
    expect([heap.pop(), heap.pop(), heap.pop(), heap.pop(), heap.pop()]).toEqual([1, 2, 0, 3, -1]);
  });

  it('orders like a sort for any keys, whether built by push or by heapify', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 60 }), (values) => {
        const key = Float64Array.from(values);
        const rank = Int32Array.from(values.map((_, i) => values.length - i));
        const expected = values.map((_, i) => i).sort((a, b) => key[b]! - key[a]! || rank[a]! - rank[b]!);
        const pushed = new NodeHeap(new Int32Array(values.length), key, rank, new Int32Array(values.length).fill(-1));
        const heapified = new NodeHeap(new Int32Array(values.length), key, rank, new Int32Array(values.length).fill(-1));
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
    const heap = new NodeHeap(new Int32Array(3), key, Int32Array.from([0, 1, 2]), new Int32Array(3).fill(-1));
    for (const i of [0, 1, 2]) heap.push(i);
    key[0] = 7;
    heap.topDecreased();
    expect([heap.pop(), heap.pop(), heap.pop()]).toEqual([1, 0, 2]);
  });

  it('keeps order through arbitrary updates and removals, tracking positions', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: -1, max: 12 })), { maxLength: 60 }),
        (values, operations) => {
          const n = values.length;
          const key = Float64Array.from(values);
          const rank = Int32Array.from(values.map((_, i) => i));
          const pos = new Int32Array(n).fill(-1);
          const heap = new NodeHeap(new Int32Array(n), key, rank, pos);
          values.forEach((_, i) => heap.append(i));
          heap.heapify();
          const present = new Set(values.map((_, i) => i));
          for (const [pick, change] of operations) {
            const index = pick % n;
            if (change < 0) {
              heap.remove(index);
              present.delete(index);
            } else if (present.has(index)) {
              key[index] = change;
              heap.update(index);
            } else {
              key[index] = change;
              heap.push(index);
              present.add(index);
            }
          }
          for (let i = 0; i < n; i++) expect(heap.has(i)).toBe(present.has(i));
          const expected = [...present].sort((a, b) => key[b]! - key[a]! || rank[a]! - rank[b]!);
          expect(Array.from({ length: present.size }, () => heap.pop())).toEqual(expected);
          expect(heap.size).toBe(0);
        },
      ),
    );
  });
});
