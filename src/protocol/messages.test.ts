import { describe, expect, it } from 'vitest';
import { agentMessage, clampReason, heartbeatMessage, MAX_REASON_CHARS, pieceEnd } from './messages.js';

const usage = { runningAttempts: 1, cpuMillis: 500, memoryBytes: 2 ** 20, loadAvg1: 0.3 };

function regions(count: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`r${i}`, i]));
}

describe('heartbeat message', () => {
  it('accepts a heartbeat without round trips, as agents before probes send it', () => {
    const parsed = agentMessage.parse({ type: 'heartbeat', usage });
    expect(parsed).toEqual({ type: 'heartbeat', usage });
    expect(parsed).not.toHaveProperty('rttMs');
  });

  it.each<{ name: string; rttMs: Record<string, number> }>([
    { name: 'measured round trips', rttMs: { 'eu-west-3': 0.214, 'us-east-1': 81 } },
    { name: 'an empty map (every measurement dropped)', rttMs: {} },
    { name: 'the bounds', rttMs: { a: 0, b: 60_000 } },
    { name: '64 regions', rttMs: regions(64) },
  ])('accepts $name', ({ rttMs }) => {
    expect(agentMessage.parse({ type: 'heartbeat', usage, rttMs })).toEqual({ type: 'heartbeat', usage, rttMs });
  });

  it.each<{ name: string; rttMs: unknown; path: readonly PropertyKey[] }>([
    { name: '65 regions', rttMs: regions(65), path: ['rttMs'] },
    { name: 'a negative time', rttMs: { 'eu-west-3': -0.1 }, path: ['rttMs', 'eu-west-3'] },
    { name: 'over a minute', rttMs: { 'eu-west-3': 60_001 }, path: ['rttMs', 'eu-west-3'] },
    { name: 'a time as text', rttMs: { 'eu-west-3': '3ms' }, path: ['rttMs', 'eu-west-3'] },
    { name: 'an empty region name', rttMs: { '': 3 }, path: ['rttMs', ''] },
    { name: 'a list', rttMs: [3], path: ['rttMs'] },
  ])('refuses $name', ({ rttMs, path }) => {
    const result = heartbeatMessage.safeParse({ type: 'heartbeat', usage, rttMs });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path)).toContainEqual(path);
  });
});

describe('hello message', () => {
  const hello = {
    type: 'hello', protocol: 1, agentVersion: '0.1.0', running: [], finished: [],
    node: { name: 'edge-1', provider: 'local', region: 'local', zone: '', site: '', kind: 'edge', cpu: 2000, memory: 2 ** 30, priceHour: 0, labels: {} },
  } as const;

  it('carries measured round trips in the node, and defaults them to none', () => {
    const withRtt = agentMessage.parse({ ...hello, node: { ...hello.node, rttMs: { 'eu-west-3': 0.3 } } });
    expect(withRtt.type === 'hello' && withRtt.node.rttMs).toEqual({ 'eu-west-3': 0.3 });
    const without = agentMessage.parse(hello);
    expect(without.type === 'hello' && without.node.rttMs).toEqual({});
  });

  it('refuses more than 64 regions of round trips', () => {
    expect(agentMessage.safeParse({ ...hello, node: { ...hello.node, rttMs: regions(65) } }).success).toBe(false);
  });
});

describe('cutting text into pieces', () => {
  const emoji = '\u{1F600}'; // two UTF-16 units
  it.each<{ text: string; start: number; max: number; end: number }>([
    { text: 'abcdef', start: 0, max: 4, end: 4 },
    { text: 'abcdef', start: 4, max: 4, end: 6 },
    { text: `abc${emoji}`, start: 0, max: 4, end: 3 },
    { text: `abc${emoji}`, start: 0, max: 5, end: 5 },
    { text: `${emoji}${emoji}`, start: 2, max: 1, end: 3 },
  ])('never splits a surrogate pair: $text from $start, at most $max', ({ text, start, max, end }) => {
    expect(pieceEnd(text, start, max)).toBe(end);
  });

  it('clamps a long reason without leaving half a pair before the marker', () => {
    const reason = `${'x'.repeat(MAX_REASON_CHARS - 16)}${emoji.repeat(100)}`;
    const clamped = clampReason(reason)!;
    expect(clamped.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
    expect(clamped).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});
