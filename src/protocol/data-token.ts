import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { sha256Schema } from '../core/data-spec.js';
import { AtollError } from '../core/errors.js';

// Data moves between agents (and from the CLI to an agent) only with a short-lived token the
// control plane signs for one partition, one serving node and one party. The control plane signs
// with an Ed25519 key of its own; agents get the public key in `welcome` and check every token
// themselves, so an agent cannot mint tokens for another (a shared HMAC key would let it).
//
// Format: base64url(JSON claims) "." base64url(signature over the first part).

export const DATA_TOKEN_MAX_CHARS = 4096;

const name = z.string().min(1).max(253);

export const dataTokenClaimsSchema = z.strictObject({
  /** read: fetch the bytes from `node`; write: store bytes on `node` (an upload). */
  op: z.enum(['read', 'write']),
  namespace: name,
  dataset: name,
  partition: name,
  /** The node that serves (read) or stores (write) the bytes. */
  node: name,
  /** Who may use it: a node name, or `client` for an upload or a download through the CLI. */
  for: name,
  /**
   * For reads by a node: where that node is, so the holder can check the partition's residency
   * itself (defence in depth) rather than trust the control plane's placement alone.
   */
  forJurisdiction: z.string().max(8).nullable(),
  /** For reads: the content the holder must serve; for writes: the residency class to record. */
  sha256: sha256Schema.optional(),
  residencyClass: z.string().max(63).nullable().optional(),
  /** Expiry, epoch ms. */
  exp: z.number().int().min(0),
});
export type DataTokenClaims = z.infer<typeof dataTokenClaimsSchema>;

export interface DataSigningKeys {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export function generateDataSigningKeys(): DataSigningKeys {
  return generateKeyPairSync('ed25519');
}

/** PEM (PKCS#8) of the private key, for the control plane's data dir. */
export function exportPrivateKey(keys: DataSigningKeys): string {
  return keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function importPrivateKey(pem: string): DataSigningKeys {
  const privateKey = createPrivateKey(pem);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** The public key as agents receive it: SPKI DER, base64. */
export function exportPublicKey(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'der' }).toString('base64');
}

export function importPublicKey(base64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' });
}

export function signDataToken(claims: DataTokenClaims, privateKey: KeyObject): string {
  const body = Buffer.from(JSON.stringify(dataTokenClaimsSchema.parse(claims))).toString('base64url');
  const signature = sign(null, Buffer.from(body), privateKey).toString('base64url');
  return `${body}.${signature}`;
}

/**
 * The token's claims if the signature holds and it has not expired; otherwise an `unauthorized`
 * error that says which. The caller still checks that the claims fit the request.
 */
export function verifyDataToken(token: string, publicKey: KeyObject, now: number): DataTokenClaims {
  if (token.length > DATA_TOKEN_MAX_CHARS) throw refused(`is longer than ${DATA_TOKEN_MAX_CHARS} characters`);
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) throw refused('is not of the form claims.signature');
  const body = token.slice(0, dot);
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  if (!verify(null, Buffer.from(body), publicKey, signature)) throw refused('has a signature the control plane did not make');
  let claims: DataTokenClaims;
  try {
    claims = dataTokenClaimsSchema.parse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
  } catch (error) {
    // Signed by the control plane yet unreadable: a version mismatch, not an attack.
    throw refused('is signed but its claims are not understood (control plane and agent versions differ?)', error);
  }
  if (claims.exp <= now) throw refused(`expired ${now - claims.exp} ms ago`);
  return claims;
}

function refused(why: string, cause?: unknown): AtollError {
  return new AtollError('unauthorized', `data token ${why}; ask the control plane for a new one`, cause === undefined ? {} : { cause });
}
