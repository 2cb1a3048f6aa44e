import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SECRET_FILE_PATTERN } from '../../core/secret-spec.js';
import type { AttemptSecret } from '../../protocol/messages.js';

// How a task gets its secrets: env secrets join its environment, file secrets are written to
// `<attempt>/secrets/` (dir 0700, files 0600) and removed when the attempt ends, whatever the
// outcome and even with keepWorkDirs. Nothing here logs or quotes a value.

/** The attempt's secrets dir, given to the task as ATOLL_SECRETS_DIR when it has file secrets. */
export const SECRETS_DIR_NAME = 'secrets';

/** Environment variables the assignment's env secrets add, and ATOLL_SECRETS_DIR when there are file secrets. */
export function secretEnvironment(secrets: readonly AttemptSecret[] | undefined, secretsDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const secret of secrets ?? []) {
    if ('env' in secret) env[secret.env] = secret.value;
    else env['ATOLL_SECRETS_DIR'] = secretsDir;
  }
  return env;
}

export function hasFileSecrets(secrets: readonly AttemptSecret[] | undefined): boolean {
  return (secrets ?? []).some((s) => 'file' in s);
}

/** Writes the file secrets into a fresh `dir`; nothing is created when there are none. */
export async function writeSecretFiles(dir: string, secrets: readonly AttemptSecret[] | undefined): Promise<void> {
  const files = (secrets ?? []).filter((s): s is Extract<AttemptSecret, { file: string }> => 'file' in s);
  if (files.length === 0) return;
  // Left by an earlier run of the same attempt (the agent was killed): start from nothing.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const secret of files) {
    // The protocol checked the name already; checked again here because it becomes a path.
    if (!SECRET_FILE_PATTERN.test(secret.file)) throw new Error(`secret ${secret.name} has an unusable file name`);
    // `wx`: never follow or overwrite something the task or another process put there.
    await writeFile(path.join(dir, secret.file), secret.value, { mode: 0o600, flag: 'wx' });
  }
}

/** Removes an attempt's secrets dir; a dir that is not there is fine. */
export async function removeSecretFiles(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * Removes the secrets dirs of every attempt under `workRoot`: at agent start, those of attempts a
 * killed agent process could not clean up. Returns the attempt ids whose secrets were removed.
 */
export async function removeLeftoverSecrets(workRoot: string): Promise<string[]> {
  let attempts: string[];
  try {
    attempts = await readdir(workRoot);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const removed: string[] = [];
  for (const attempt of attempts) {
    const dir = path.join(workRoot, attempt, SECRETS_DIR_NAME);
    try {
      await rm(dir, { recursive: true });
      removed.push(attempt);
    } catch (error) {
      // Most attempts never had file secrets; only a failure to remove one that exists matters.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
    }
  }
  return removed;
}
