import { readFile, rename, writeFile } from 'node:fs/promises';
import { join as joinPath } from 'node:path';
import { z } from 'zod';
import { AtollError } from '../core/errors.js';
import { parseOrThrow } from '../core/validation.js';
import { joinResponseSchema } from '../protocol/messages.js';

// The per-node credential the agent gets for the join token on first join. Kept in the data dir
// (mode 0600) so later starts reuse the same identity without the join token.

const credentialFileSchema = z.strictObject({ node: z.string(), credential: z.string() });
export type NodeCredential = z.infer<typeof credentialFileSchema>;

export const CREDENTIAL_FILE = 'node-credential.json';

export async function loadCredential(dataDir: string): Promise<NodeCredential | undefined> {
  const file = joinPath(dataDir, CREDENTIAL_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseOrThrow(credentialFileSchema, JSON.parse(text), `credential file ${file}`);
}

export async function saveCredential(dataDir: string, credential: NodeCredential): Promise<void> {
  const file = joinPath(dataDir, CREDENTIAL_FILE);
  await writeFile(`${file}.tmp`, JSON.stringify(credential), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

export class JoinRefused extends AtollError {}

/** Exchanges the join token for a node credential. Network failures throw plain errors (retryable). */
export async function join(serverUrl: string, joinToken: string, node: string): Promise<NodeCredential> {
  const response = await fetch(new URL('/v1/agents/join', serverUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${joinToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ node }),
  });
  const body: unknown = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (body as { error?: { message?: string } }).error?.message ?? `HTTP ${response.status}`;
    // 409 (the node is still connected from a previous run) clears up by itself; others do not.
    if (response.status === 409 || response.status >= 500) throw new Error(`join not possible yet: ${message}`);
    throw new JoinRefused('unauthorized', `the control plane refused to let ${node} join: ${message}`);
  }
  return parseOrThrow(joinResponseSchema, body, 'join response');
}
