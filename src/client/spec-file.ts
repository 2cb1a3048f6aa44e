import { readFile } from 'node:fs/promises';
import { AtollError } from '../core/errors.js';
import { parseYamlDocument } from '../core/yaml-document.js';

export async function readSpecFile(file: string): Promise<unknown> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new AtollError('invalid_request', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  // YAML is a superset of JSON, so one parser reads both; bytes, so invalid UTF-8 is refused, not replaced.
  return parseYamlDocument(bytes, { what: file, code: 'invalid_spec' });
}
