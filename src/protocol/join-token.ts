import { createHash, X509Certificate } from 'node:crypto';
import { AtollError } from '../core/errors.js';

// A join token names the cluster CA it belongs to, as k3s's K10 tokens do:
//   atoll_join_<sha256 of the CA certificate's DER, 64 hex>.<secret, base64url>
// An agent reads the fingerprint out of the token, fetches the CA certificate from the server and
// compares before it sends the token anywhere, so a server in the middle never learns the secret.

const PREFIX = 'atoll_join_';
const TOKEN_PATTERN = /^atoll_join_([0-9a-f]{64})\.([A-Za-z0-9_-]{20,})$/;

export interface ParsedJoinToken {
  /** sha256 (hex) of the DER bytes of the CA certificate the agent must see. */
  readonly caFingerprint: string;
  readonly secret: string;
}

export function formatJoinToken(caFingerprint: string, secret: string): string {
  return `${PREFIX}${caFingerprint}.${secret}`;
}

/** Splits a join token; a token of another shape is refused with what was expected. */
export function parseJoinToken(token: string): ParsedJoinToken {
  const match = TOKEN_PATTERN.exec(token.trim());
  if (!match) {
    const shown = token.length > 16 ? `${token.slice(0, 16)}…` : token;
    throw new AtollError('invalid_request', `join token: expected atoll_join_<64 hex CA fingerprint>.<secret> (as in <server-data-dir>/join.token or \`atoll join-token create\`), got ${JSON.stringify(shown)}`);
  }
  return { caFingerprint: match[1]!, secret: match[2]! };
}

/** sha256 (hex, lowercase) of a PEM certificate's DER bytes. */
export function certificateFingerprint(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}
