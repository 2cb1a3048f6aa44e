import { describe, expect, it } from 'vitest';
import { PendingQueue } from './pending-queue.js';

function queueOf(jobs: Record<string, number>): PendingQueue {
  const queue = new PendingQueue();
  for (const [jobId, count] of Object.entries(jobs)) for (let i = 0; i < count; i += 1) queue.add({ id: `${jobId}.${i}`, jobId });
  return queue;
}

describe('PendingQueue', () => {
  it('keeps submission order within a job and counts tasks', () => {
    const queue = queueOf({ a: 3, b: 2 });
    expect([...queue]).toEqual(['a.0', 'a.1', 'a.2', 'b.0', 'b.1']);
    expect(queue.size).toBe(5);
    queue.delete('a.1');
    queue.delete('nope');
    expect(queue.has('a.1')).toBe(false);
    expect([...queue]).toEqual(['a.0', 'a.2', 'b.0', 'b.1']);
  });

  it('gives a job behind a huge one its share of the round', () => {
    const queue = queueOf({ huge: 5000, small: 1 });
    const taken = queue.take(2000, () => true);
    expect(taken).toHaveLength(2000);
    expect(taken).toContain('small.0');
  });

  it('hands budget a small job cannot use to the others', () => {
    const queue = queueOf({ a: 10, b: 1, c: 10 });
    const taken = queue.take(15, () => true);
    expect(taken).toHaveLength(15);
    expect(new Set(taken).size).toBe(15);
    expect(taken).toContain('b.0');
  });

  it('skips tasks that are not ready without charging the budget', () => {
    const queue = queueOf({ a: 6 });
    expect(queue.take(2, (id) => id >= 'a.3')).toEqual(['a.3', 'a.4']);
  });

  it('starts from a different job each round', () => {
    const queue = queueOf({ a: 5, b: 5, c: 5 });
    const firsts = [0, 1, 2].map(() => queue.take(1, () => true)[0]);
    expect(firsts).toEqual(['a.0', 'b.0', 'c.0']);
  });

  it('looks at no more jobs than asked, and goes on with the rest next time', () => {
    const queue = queueOf({ a: 5, b: 5, c: 5, d: 5, e: 5 });
    const first = queue.take(100, () => true, 2);
    expect(first).toEqual(['a.0', 'a.1', 'a.2', 'a.3', 'a.4', 'b.0', 'b.1', 'b.2', 'b.3', 'b.4']);
    expect([queue.jobsSeen, queue.jobsLeftOut, queue.jobCount]).toEqual([2, 3, 5]);
    expect(queue.take(100, () => true, 2).map((id) => id[0])).toEqual(['c', 'c', 'c', 'c', 'c', 'd', 'd', 'd', 'd', 'd']);
    // Wraps around: e, then a again.
    expect(new Set(queue.take(100, () => true, 2).map((id) => id[0]))).toEqual(new Set(['e', 'a']));
  });

  it('reports every job seen when the bound is not reached', () => {
    const queue = queueOf({ a: 1, b: 1 });
    queue.take(10, () => true, 16);
    expect([queue.jobsSeen, queue.jobsLeftOut]).toEqual([2, 0]);
  });

  it('returns nothing for an empty queue or budget', () => {
    expect(new PendingQueue().take(10, () => true)).toEqual([]);
    expect(queueOf({ a: 2 }).take(0, () => true)).toEqual([]);
  });
});
