import { X509Certificate } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join as joinPath } from 'node:path';
import { z } from 'zod';
import { fetchTrusting, fetchUnverified } from '../client/tls-fetch.js';
import { AtollError } from '../core/errors.js';
import { parseOrThrow } from '../core/validation.js';
import { CLOCK_SLACK_MS, createCsr, newKeyPair } from '../protocol/certificate-request.js';
import { certificateFingerprint, parseJoinToken } from '../protocol/join-token.js';
import { joinResponseSchema } from '../protocol/messages.js';

// The node's identity, kept in its data dir so later starts need no join token:
//   node-credential.json  the node's certificate and the cluster CA it trusts (or, with
//                         --insecure, a bearer credential)
//   node.key              the node's private key, made here, never sent anywhere (mode 0600)

const credentialFileSchema = z.strictObject({
  node: z.string(),
  credential: z.string().optional(),
  certificate: z.string().optional(),
  ca: z.string().optional(),
  /** TLS: the data server's certificate (server auth, SAN = the advertised data host), same key as the node certificate. */
  dataCertificate: z.string().optional(),
  /** The data CA that signed it, and peers' data server certificates. */
  dataCa: z.string().optional(),
});
export type NodeCredential = z.infer<typeof credentialFileSchema>;

export const CREDENTIAL_FILE = 'node-credential.json';
export const NODE_KEY_FILE = 'node.key';

export async function loadCredential(dataDir: string): Promise<NodeCredential | undefined> {
  const file = joinPath(dataDir, CREDENTIAL_FILE);
  const text = await readIfPresent(file);
  return text === undefined ? undefined : parseOrThrow(credentialFileSchema, JSON.parse(text), `credential file ${file}`);
}

export async function saveCredential(dataDir: string, credential: NodeCredential): Promise<void> {
  await writeAtomically(joinPath(dataDir, CREDENTIAL_FILE), JSON.stringify(credential));
}

/** The node's key pair, made on first use. */
export async function nodeKeys(dataDir: string): Promise<{ publicKeyPem: string; privateKeyPem: string }> {
  const file = joinPath(dataDir, NODE_KEY_FILE);
  const existing = await readIfPresent(file);
  if (existing !== undefined) {
    const parsed = z.strictObject({ publicKeyPem: z.string(), privateKeyPem: z.string() }).parse(JSON.parse(existing));
    return parsed;
  }
  const keys = newKeyPair();
  await writeAtomically(file, JSON.stringify(keys));
  return keys;
}

export class JoinRefused extends AtollError {}

/**
 * Joins the cluster. Over TLS the agent first fetches the server's CA and compares its sha256
 * with the fingerprint in the join token; only on a match does it send the token (and a CSR for
 * its own key), and from then on it trusts that CA alone. Network failures throw plain errors
 * (retryable); refusals throw JoinRefused.
 */
export async function join(serverUrl: string, joinToken: string, node: string, labels: Readonly<Record<string, string>>, dataDir: string, dataHost?: string): Promise<NodeCredential> {
  const parsed = parseJoinToken(joinToken);
  const secure = new URL(serverUrl).protocol === 'https:';
  let doFetch: typeof fetch = fetch;
  let csr: string | undefined;
  let ca: string | undefined;
  if (secure) {
    ca = await fetchCa(serverUrl);
    const seen = certificateFingerprint(ca);
    if (seen !== parsed.caFingerprint) {
      throw new JoinRefused('unauthorized', `the server at ${serverUrl} presents a CA with sha256 ${seen}, but the join token names ${parsed.caFingerprint}: not sending the token (wrong server or address, or someone in the middle); check --server and the token`);
    }
    doFetch = fetchTrusting({ ca });
    csr = createCsr(node, await nodeKeys(dataDir));
  }
  // A second CSR (same key) for the data server's certificate, for the data host this node advertises.
  const data = csr !== undefined && dataHost !== undefined ? { dataCsr: createCsr(node, await nodeKeys(dataDir)), dataHost } : {};
  const response = await doFetch(new URL('/v1/agents/join', serverUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${joinToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ node, labels, ...(csr === undefined ? {} : { csr }), ...data }),
  });
  const body = await answer(response, `the control plane refused to let ${node} join`);
  const result = parseOrThrow(joinResponseSchema, body, 'join response');
  if (secure && (result.certificate === undefined || result.ca !== ca)) {
    throw new JoinRefused('unauthorized', 'the join answer carries no node certificate from the expected CA');
  }
  if (secure && dataHost !== undefined && (result.dataCertificate === undefined || result.dataCa === undefined)) {
    throw new JoinRefused('unauthorized', 'the join answer carries no data server certificate (is the control plane older than data TLS?)');
  }
  return result;
}

/** A new certificate for the same key, asked for with the current one (mutual TLS). */
export async function renew(serverUrl: string, credential: NodeCredential, dataDir: string, dataHost?: string): Promise<NodeCredential> {
  if (credential.certificate === undefined || credential.ca === undefined) throw new Error('no certificate to renew');
  const keys = await nodeKeys(dataDir);
  const doFetch = fetchTrusting({ ca: credential.ca, cert: credential.certificate, key: keys.privateKeyPem });
  const response = await doFetch(new URL('/v1/agents/renew', serverUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ csr: createCsr(credential.node, keys), ...(dataHost === undefined ? {} : { dataCsr: createCsr(credential.node, keys), dataHost }) }),
  });
  const result = parseOrThrow(joinResponseSchema, await answer(response, `the control plane refused to renew ${credential.node}'s certificate`), 'renew response');
  if (result.certificate === undefined || result.ca !== credential.ca) throw new Error('the renew answer carries no certificate from the expected CA');
  return { ...credential, certificate: result.certificate, ...(result.dataCertificate === undefined ? {} : { dataCertificate: result.dataCertificate }), ...(result.dataCa === undefined ? {} : { dataCa: result.dataCa }) };
}

/** When to renew: 60% into the certificate's life, so a renewal failing for a while still has time. */
export function renewAt(certificatePem: string): number {
  const cert = new X509Certificate(certificatePem);
  const from = Date.parse(cert.validFrom) + CLOCK_SLACK_MS;
  const to = Date.parse(cert.validTo);
  return from + (to - from) * 0.6;
}

async function fetchCa(serverUrl: string): Promise<string> {
  // Unverified on purpose: the certificate is only trusted once its fingerprint matches the token.
  const response = await fetchUnverified()(new URL('/v1/agents/ca', serverUrl));
  if (!response.ok) throw new Error(`GET /v1/agents/ca answered HTTP ${response.status}`);
  const pem = await response.text();
  if (!pem.includes('BEGIN CERTIFICATE') || pem.length > 16_384) throw new JoinRefused('unauthorized', `the server at ${serverUrl} did not answer GET /v1/agents/ca with a certificate; is it an atoll control plane?`);
  return pem;
}

async function answer(response: Response, refused: string): Promise<unknown> {
  const text = await response.text();
  let body: unknown = {};
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    // Not JSON (a proxy's page): the status alone is reported below.
  }
  if (!response.ok) {
    const message = (body as { error?: { message?: string } }).error?.message ?? `HTTP ${response.status}`;
    // 409 (the node is still connected from a previous run) clears up by itself; others do not.
    if (response.status === 409 || response.status >= 500) throw new Error(`not possible yet: ${message}`);
    throw new JoinRefused(response.status === 403 ? 'forbidden' : 'unauthorized', `${refused}: ${message}`);
  }
  return body;
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}
