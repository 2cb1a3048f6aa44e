import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { AtollError } from '../core/errors.js';

/** Largest spec file read; the server refuses bodies over 1 MiB anyway. */
const MAX_SPEC_BYTES = 1024 * 1024;

export async function readSpecFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new AtollError('invalid_request', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES) throw new AtollError('invalid_spec', `${file} is larger than 1 MiB`);
  try {
    // YAML is a superset of JSON, so one parser reads both.
    return parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new AtollError('invalid_spec', `${file} is not valid YAML or JSON: ${(error as Error).message}`);
  }
}
