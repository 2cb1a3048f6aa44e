import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJobSpec } from '../core/job-spec.js';
import { parseSecretFlag, withSecretValues } from './secret-values.js';

const VALUE = 'pw-from-the-environment';

describe('--secret values', () => {
  it('parses NAME=env:VARIABLE and NAME=file:PATH, and refuses anything else', () => {
    expect(parseSecretFlag('db-password=env:PGPASSWORD')).toEqual({ name: 'db-password', from: 'env', where: 'PGPASSWORD' });
    expect(parseSecretFlag('tls=file:/run/keys/a=b.pem')).toEqual({ name: 'tls', from: 'file', where: '/run/keys/a=b.pem' });
    for (const bad of ['db-password', 'DB=env:X', 'db=vault:x', 'db=env:', '=env:X']) {
      expect(() => parseSecretFlag(bad), bad).toThrow(`--secret expects NAME=env:VARIABLE or NAME=file:PATH (NAME like db-password), got ${JSON.stringify(bad)}`);
    }
  });

  it('fills every declaration of the name, job-level and per stage, from the environment or a file as it is', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'atoll-secret-values-')), 'key.pem');
    await writeFile(file, 'KEY\nLINES\n');
    const written = {
      name: 'staged', secrets: { db: { env: 'DB' } },
      stages: [{ name: 'a', command: ['true'], secrets: { db: { file: 'db' }, key: { file: 'key.pem' } } }, { name: 'b', command: ['true'] }],
    };
    const filled = await withSecretValues(written, ['db=env:MY_DB', `key=file:${file}`], { MY_DB: VALUE });
    expect(filled).toEqual({
      name: 'staged', secrets: { db: { env: 'DB', value: VALUE } },
      stages: [{ name: 'a', command: ['true'], secrets: { db: { file: 'db', value: VALUE }, key: { file: 'key.pem', value: 'KEY\nLINES\n' } } }, { name: 'b', command: ['true'] }],
    });
    // The written spec is left alone, and the filled one is a valid spec.
    expect(written.secrets.db).toEqual({ env: 'DB' });
    expect(parseJobSpec(filled).stages[1]!.secrets).toEqual({ db: { env: 'DB', value: VALUE } });
  });

  it('refuses a flag for a secret the spec does not declare, an unset variable and an unreadable file, naming only where it looked', async () => {
    const spec = { name: 'a', command: ['true'], secrets: { db: { env: 'DB' } } };
    await expect(withSecretValues(spec, ['other=env:X'], { X: VALUE })).rejects.toThrow('--secret other: the spec declares no secret other; declare it under secrets with env or file (its value may be left out)');
    await expect(withSecretValues(spec, ['db=env:UNSET_VARIABLE'], {})).rejects.toThrow('--secret db: environment variable UNSET_VARIABLE is not set');
    await expect(withSecretValues(spec, ['db=file:/nonexistent/atoll-key'], {})).rejects.toThrow('--secret db: cannot read /nonexistent/atoll-key: ENOENT');
    await expect(withSecretValues('not a spec', ['db=env:X'], { X: VALUE })).rejects.toThrow('--secret needs a job spec that is an object');
  });

  it('leaves a spec alone when no flag is given', async () => {
    const spec = { name: 'a' };
    expect(await withSecretValues(spec, [])).toBe(spec);
  });
});
