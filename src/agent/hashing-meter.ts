import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

/**
 * A pass-through stream that hashes (sha256) and counts what flows through it, and fails with
 * `tooLarge()` past `limit` bytes: how received partition bytes are checked on the way to disk.
 */
export function hashingMeter(limit: number, tooLarge: () => Error): { readonly stream: Transform; readonly bytes: () => number; readonly sha256: () => string } {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > limit) {
        done(tooLarge());
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  return { stream, bytes: () => bytes, sha256: () => hash.digest('hex') };
}
