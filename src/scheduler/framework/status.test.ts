import { describe, expect, it } from 'vitest';
import { formatReasonCounts, isSuccess, REASON_CODES, type ReasonCounts, SUCCESS, unplacedMessage, unschedulable } from './status.js';

describe('status', () => {
  it('tells success from unschedulable', () => {
    expect(isSuccess(SUCCESS)).toBe(true);
    expect(isSuccess(unschedulable('label_mismatch', 'requires tier In (gpu)'))).toBe(false);
  });

  it('lists every reason code once', () => {
    expect(new Set(REASON_CODES).size).toBe(REASON_CODES.length);
  });

  it.each<[string, ReasonCounts, string]>([
    ['largest count first', { label_mismatch: 2, insufficient_cpu: 3 }, '3 insufficient_cpu, 2 label_mismatch'],
    ['ties in code order', { insufficient_memory: 1, node_not_ready: 1 }, '1 node_not_ready, 1 insufficient_memory'],
    ['zero counts left out', { insufficient_cpu: 0, label_mismatch: 4 }, '4 label_mismatch'],
    ['single reason', { node_not_ready: 7 }, '7 node_not_ready'],
  ])('formats reason counts: %s', (_name, counts, expected) => {
    expect(formatReasonCounts(counts)).toBe(expected);
  });

  it.each<[ReasonCounts, RegExp]>([
    [{ insufficient_cpu: 3, label_mismatch: 2 }, /^no node fits: 3 insufficient_cpu, 2 label_mismatch$/],
    [{ no_nodes: 1 }, /^no node fits: the cluster has no nodes; start an agent/],
  ])('builds the refusal for %j', (counts, expected) => {
    expect(unplacedMessage(counts)).toMatch(expected);
  });
});
