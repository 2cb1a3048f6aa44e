import { describe, expect, it } from 'vitest';
import { isSuccess, REASON_CODES, type ReasonCode, SUCCESS, unplacedMessage, unschedulable } from './status.js';

const counts = (entries: Array<[string, ReasonCode, number]>) => new Map(entries.map(([phrase, reason, count]) => [phrase, { reason, count }]));

describe('status', () => {
  it('tells success from unschedulable', () => {
    expect(isSuccess(SUCCESS)).toBe(true);
    expect(isSuccess(unschedulable('label_mismatch', 'label not tier In (gpu)', 'requires tier In (gpu)'))).toBe(false);
  });

  it('lists every reason code once', () => {
    expect(new Set(REASON_CODES).size).toBe(REASON_CODES.length);
  });

  it.each<[string, Array<[string, ReasonCode, number]>, string]>([
    [
      'largest count first',
      [
        ['untolerated taint edge', 'untolerated_taint', 6],
        ['jurisdiction not in [EU]', 'jurisdiction_not_allowed', 22],
        ['insufficient memory', 'insufficient_memory', 12],
      ],
      '0/40 nodes fit: 22 jurisdiction not in [EU], 12 insufficient memory, 6 untolerated taint edge',
    ],
    [
      'ties in reason-code order, then first seen',
      [
        ['insufficient cpu', 'insufficient_cpu', 1],
        ['node down', 'node_not_ready', 1],
        ['node draining', 'node_not_ready', 1],
      ],
      '0/40 nodes fit: 1 node down, 1 node draining, 1 insufficient cpu',
    ],
  ])('summarises: %s', (_name, entries, expected) => {
    expect(unplacedMessage(40, counts(entries))).toBe(expected);
  });

  it('tells an empty cluster to start an agent', () => {
    expect(unplacedMessage(0, new Map())).toMatch(/^no node fits: the cluster has no nodes; start an agent/);
  });
});
