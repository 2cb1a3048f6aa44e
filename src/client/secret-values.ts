import { readFile } from 'node:fs/promises';
import { AtollError } from '../core/errors.js';

// `atoll run FILE --secret NAME=env:VARIABLE | NAME=file:PATH`: secret values taken from the
// submitter's environment or files at submit time, so the spec file itself (kept in version
// control, shown in reviews) never holds them. Messages name flags, variables and paths only.

const FLAG = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)=(env|file):(.+)$/s;

export interface SecretSource {
  readonly name: string;
  readonly from: 'env' | 'file';
  /** The variable name or the file path. */
  readonly where: string;
}

export function parseSecretFlag(flag: string): SecretSource {
  const match = FLAG.exec(flag);
  if (match === null) throw new AtollError('invalid_request', `--secret expects NAME=env:VARIABLE or NAME=file:PATH (NAME like db-password), got ${JSON.stringify(flag)}`);
  return { name: match[1]!, from: match[3] as 'env' | 'file', where: match[4]! };
}

async function valueOf(source: SecretSource, env: NodeJS.ProcessEnv): Promise<string> {
  if (source.from === 'env') {
    const value = env[source.where];
    if (value === undefined) throw new AtollError('invalid_request', `--secret ${source.name}: environment variable ${source.where} is not set`);
    return value;
  }
  try {
    // Taken as it is, a final newline included: a file secret reaches the task byte for byte.
    return await readFile(source.where, 'utf8');
  } catch (error) {
    throw new AtollError('invalid_request', `--secret ${source.name}: cannot read ${source.where}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every `secrets` map of the spec as written: the job's and each stage's. */
function secretMaps(spec: Record<string, unknown>): Record<string, unknown>[] {
  const stages = Array.isArray(spec['stages']) ? (spec['stages'] as unknown[]) : [];
  return [spec['secrets'], ...stages.map((stage) => (isObject(stage) ? stage['secrets'] : undefined))].filter(isObject);
}

/**
 * A copy of `spec` with each flag's value set on every secret of that name it declares (the job's
 * and any stage's). A flag naming a secret the spec does not declare is an error: the spec says
 * where each secret goes, the flag only what it is.
 */
export async function withSecretValues(spec: unknown, flags: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<unknown> {
  if (flags.length === 0) return spec;
  if (!isObject(spec)) throw new AtollError('invalid_spec', '--secret needs a job spec that is an object');
  const copy = structuredClone(spec);
  const maps = secretMaps(copy);
  for (const source of flags.map(parseSecretFlag)) {
    const entries = maps.map((map) => map[source.name]).filter(isObject);
    if (entries.length === 0) {
      throw new AtollError('invalid_spec', `--secret ${source.name}: the spec declares no secret ${source.name}; declare it under secrets with env or file (its value may be left out)`);
    }
    const value = await valueOf(source, env);
    for (const entry of entries) entry['value'] = value;
  }
  return copy;
}
