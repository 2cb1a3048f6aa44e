import { RELAY_FRAME_HEADER_BYTES } from './messages.js';

// Binary frames of relayed transfers: a 4-byte big-endian stream number, then the bytes.

/** A frame of `payload` bytes for `stream`; the payload is copied in after the header. */
export function relayFrame(stream: number, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(RELAY_FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(stream, 0);
  payload.copy(frame, RELAY_FRAME_HEADER_BYTES);
  return frame;
}

/** The stream number and payload of a binary frame, or undefined if it is too short to be one. */
export function parseRelayFrame(frame: Buffer): { stream: number; payload: Buffer } | undefined {
  if (frame.length < RELAY_FRAME_HEADER_BYTES) return undefined;
  return { stream: frame.readUInt32BE(0), payload: frame.subarray(RELAY_FRAME_HEADER_BYTES) };
}
