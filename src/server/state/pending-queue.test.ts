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

  it('returns nothing for an empty queue or budget', () => {
    expect(new PendingQueue().take(10, () => true)).toEqual([]);
    expect(queueOf({ a: 2 }).take(0, () => true)).toEqual([]);
  });
});
