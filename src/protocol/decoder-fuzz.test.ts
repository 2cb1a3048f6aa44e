import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AtollError } from '../core/errors.js';
import { parseOrThrow } from '../core/validation.js';
import { agentMessage, helloMessage, RELAY_FRAME_HEADER_BYTES } from './messages.js';
import { parseRelayFrame } from './relay-frame.js';

// The control plane's decoders fed directly: JSON-ish values into the agent message schemas,
// arbitrary bytes into the relay frame parser. The socket-level counterpart is
// test/integration/protocol-fuzz.test.ts.

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 500);

/** Decodes as the agent gateway does; returns whether it was accepted. Anything but an AtollError fails. */
function decode(text: string, schema: typeof agentMessage | typeof helloMessage): boolean {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(SyntaxError);
    return false;
  }
  try {
    parseOrThrow(schema, json, 'agent message');
    return true;
  } catch (error) {
    expect(error).toBeInstanceOf(AtollError);
    expect((error as AtollError).problems.length).toBeGreaterThan(0);
    return false;
  }
}

const typed = fc.record({
  type: fc.constantFrom('hello', 'heartbeat', 'attempts.started', 'attempts.logs', 'attempts.results', 'leaving', 'relay.credit', 'relay.end', 'relay.cancel', 'relay.reply', 'data.stored', 'data.failed', 'nope'),
  rest: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
}).map(({ type, rest }) => JSON.stringify({ ...rest, type }));

describe('protocol decoders under generated input', () => {
  it('refuse any JSON text that is not a message only with a SyntaxError or an AtollError listing problems', () => {
    fc.assert(
      fc.property(fc.oneof(typed, fc.json({ maxDepth: 5 }), fc.string({ maxLength: 200 })), fc.constantFrom(agentMessage, helloMessage), (text, schema) => {
        decode(text, schema);
      }),
      { numRuns: RUNS },
    );
  });

  it('accepts a real heartbeat, so the property above is not vacuous', () => {
    expect(decode(JSON.stringify({ type: 'heartbeat', usage: { runningAttempts: 0, cpuMillis: 0, memoryBytes: 0, loadAvg1: 0 } }), agentMessage)).toBe(true);
  });

  it('splits any bytes into a stream number and payload, or says they are too short', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const frame = parseRelayFrame(Buffer.from(bytes));
        if (bytes.length < RELAY_FRAME_HEADER_BYTES) {
          expect(frame).toBeUndefined();
          return;
        }
        expect(frame!.stream).toBeGreaterThanOrEqual(0);
        expect(frame!.stream).toBeLessThan(2 ** 32);
        expect(frame!.payload.length).toBe(bytes.length - RELAY_FRAME_HEADER_BYTES);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses deep nesting and prototype keys before the schema sees them', () => {
    expect(() => parseOrThrow(agentMessage, JSON.parse('['.repeat(10_000) + ']'.repeat(10_000)), 'agent message')).toThrow(/deeper than the 32 levels/);
    expect(() => parseOrThrow(agentMessage, JSON.parse('{"type":"heartbeat","rttMs":{"__proto__":1}}'), 'agent message')).toThrow(/rttMs\.__proto__/);
  });
});
