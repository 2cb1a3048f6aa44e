import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AtollError } from './errors.js';
import { jobSpecJsonSchema, parseJobSpec } from './job-spec.js';
import { MAX_SECRET_BYTES, MAX_SECRET_BYTES_PER_STAGE, MAX_SECRETS_PER_STAGE, REDACTED_SECRET, redactSecrets } from './secret-spec.js';

// `secrets` in job specs: what is accepted, how stages merge them, and refusals that name the
// field without ever quoting a value (they reach terminals and CI logs).

const VALUE = 'correct horse battery staple';

function job(secrets: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'with-secrets', command: ['true'], secrets, ...extra };
}

function refusal(value: unknown): AtollError {
  try {
    parseJobSpec(value);
  } catch (error) {
    expect(error).toBeInstanceOf(AtollError);
    return error as AtollError;
  }
  throw new Error('expected the spec to be refused');
}

function problemsOf(value: unknown): { path: string; message: string }[] {
  return [...refusal(value).problems];
}

describe('job spec secrets: accepted', () => {
  it('takes env and file secrets in the short form', () => {
    const stage = parseJobSpec(job({ 'db-password': { value: VALUE, env: 'DB_PASSWORD' }, 'tls-key': { value: 'KEY\nLINES\n', file: 'tls.key' } })).stages[0]!;
    expect(stage.secrets).toEqual({ 'db-password': { value: VALUE, env: 'DB_PASSWORD' }, 'tls-key': { value: 'KEY\nLINES\n', file: 'tls.key' } });
  });

  it('defaults to none', () => {
    expect(parseJobSpec({ name: 'plain', command: ['true'] }).stages[0]!.secrets).toEqual({});
  });

  it('merges job-level and stage-level secrets by name, the stage winning', () => {
    const spec = parseJobSpec({
      name: 'staged', secrets: { shared: { value: 'job', env: 'SHARED' }, token: { value: 'job-token', env: 'TOKEN' } },
      stages: [
        { name: 'a', command: ['true'] },
        { name: 'b', command: ['true'], secrets: { token: { value: 'stage-token', file: 'token' } } },
      ],
    });
    expect(spec.stages[0]!.secrets).toEqual({ shared: { value: 'job', env: 'SHARED' }, token: { value: 'job-token', env: 'TOKEN' } });
    expect(spec.stages[1]!.secrets).toEqual({ shared: { value: 'job', env: 'SHARED' }, token: { value: 'stage-token', file: 'token' } });
  });

  it('accepts the largest value and the most secrets a stage may have', () => {
    const many = Object.fromEntries(Array.from({ length: MAX_SECRETS_PER_STAGE }, (_, i) => [`s${i}`, { value: 'x', env: `S${i}` }]));
    expect(Object.keys(parseJobSpec(job(many)).stages[0]!.secrets)).toHaveLength(MAX_SECRETS_PER_STAGE);
    expect(parseJobSpec(job({ big: { value: 'x'.repeat(MAX_SECRET_BYTES), file: 'big' } })).stages[0]!.secrets['big']!.value).toHaveLength(MAX_SECRET_BYTES);
  });

  it('is described in the JSON Schema with its fields and limits', () => {
    const text = JSON.stringify(jobSpecJsonSchema());
    expect(text).toContain('"secrets"');
    expect(text).toContain(`"description":"at most ${MAX_SECRET_BYTES} bytes"`);
  });

  it('redacts every value and keeps where each goes', () => {
    expect(redactSecrets({ a: { value: VALUE, env: 'A' }, b: { value: VALUE, file: 'b' } })).toEqual({ a: { value: REDACTED_SECRET, env: 'A' }, b: { value: REDACTED_SECRET, file: 'b' } });
  });
});

describe('job spec secrets: refusals name the field', () => {
  const table: [string, unknown, string, RegExp][] = [
    ['a bad name', { DB: { value: VALUE, env: 'DB' } }, 'secrets.DB', /expected a secret name of lowercase letters/],
    ['neither env nor file', { db: { value: VALUE } }, 'secrets.db', /give exactly one of env .* or file/],
    ['both env and file', { db: { value: VALUE, env: 'DB', file: 'db' } }, 'secrets.db', /give exactly one of env/],
    ['an unknown field', { db: { value: VALUE, env: 'DB', mode: '0644' } }, 'secrets.db.mode', /unknown field/],
    ['no value', { db: { env: 'DB' } }, 'secrets.db.value', /missing; give the secret value as a string/],
    ['an empty value', { db: { value: '', env: 'DB' } }, 'secrets.db.value', /the secret value is empty/],
    ['the redacted placeholder', { db: { value: REDACTED_SECRET, env: 'DB' } }, 'secrets.db.value', /what the API shows in place of a secret; give the real value/],
    ['a value too large', { db: { value: 'x'.repeat(MAX_SECRET_BYTES + 1), file: 'db' } }, 'secrets.db.value', new RegExp(`is ${MAX_SECRET_BYTES + 1} bytes; at most ${MAX_SECRET_BYTES}`)],
    ['a NUL in an env secret', { db: { value: 'a\0b', env: 'DB' } }, 'secrets.db.value', /cannot hold a NUL character; deliver this secret as a file/],
    ['a bad env name', { db: { value: VALUE, env: '1DB' } }, 'secrets.db.env', /expected an environment variable name/],
    ['a path as file name', { db: { value: VALUE, file: '../../etc/passwd' } }, 'secrets.db.file', /expected a plain file name/],
    ['a hidden file name', { db: { value: VALUE, file: '..' } }, 'secrets.db.file', /not starting with "."/],
    ['an ATOLL_ variable', { db: { value: VALUE, env: 'ATOLL_NODE' } }, 'secrets.db.env', /ATOLL_\* variables are set by atoll/],
    ['a list instead of a map', [{ value: VALUE, env: 'DB' }], 'secrets', /expected a map of secret name to/],
    ['a string instead of an object', { db: VALUE }, 'secrets.db', /expected an object like/],
    ['an object as value', { db: { value: { from: 'vault' }, env: 'DB' } }, 'secrets.db.value', /expected the secret value as a string, got an object/],
  ];
  it.each(table)('refuses %s', (_what, secrets, path, message) => {
    const problems = problemsOf(job(secrets));
    expect(problems).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it('refuses a variable that env sets too, and two secrets to one place', () => {
    expect(problemsOf(job({ db: { value: VALUE, env: 'DB' } }, { env: { DB: 'plain' } }))).toEqual([{ path: 'secrets.db.env', message: 'DB is also set in env; a variable comes from one place only' }]);
    expect(problemsOf(job({ a: { value: VALUE, env: 'DB' }, b: { value: VALUE, env: 'DB' } }))).toEqual([{ path: 'secrets.b.env', message: 'secret a already goes to DB' }]);
    expect(problemsOf(job({ a: { value: VALUE, file: 'k' }, b: { value: VALUE, file: 'k' } }))).toEqual([{ path: 'secrets.b.file', message: 'secret a already goes to file k' }]);
  });

  it('counts a stage\'s merged secrets against the limits, at the stage\'s path', () => {
    const many = Object.fromEntries(Array.from({ length: MAX_SECRETS_PER_STAGE + 1 }, (_, i) => [`s${i}`, { value: 'x', env: `S${i}` }]));
    expect(problemsOf(job(many))).toEqual([{ path: 'secrets', message: `${MAX_SECRETS_PER_STAGE + 1} secrets; a stage's tasks get at most ${MAX_SECRETS_PER_STAGE}` }]);
    const half = 'x'.repeat(MAX_SECRET_BYTES);
    const heavy = Object.fromEntries(Array.from({ length: MAX_SECRET_BYTES_PER_STAGE / MAX_SECRET_BYTES }, (_, i) => [`s${i}`, { value: half, file: `f${i}` }]));
    const staged = { name: 'staged', secrets: heavy, stages: [{ name: 'a', command: ['true'], secrets: { more: { value: 'y', file: 'more' } } }] };
    expect(problemsOf(staged)).toEqual([{ path: 'stages[0].secrets', message: `the secret values are ${MAX_SECRET_BYTES_PER_STAGE + 1} bytes together; at most ${MAX_SECRET_BYTES_PER_STAGE} are allowed per stage` }]);
  });

  it('never quotes a value in a refusal, whatever is wrong around it', () => {
    const marker = 'Zq7-secret-marker';
    const badShapes = fc.constantFrom<(v: string) => unknown>(
      (v) => ({ db: v }),
      (v) => ({ db: { value: v } }),
      (v) => ({ db: { value: v, env: 'A', file: 'a' } }),
      (v) => ({ db: { value: v, env: 'ATOLL_X' } }),
      (v) => ({ db: { value: `${v}\0`, env: 'A' } }),
      (v) => ({ db: { value: v, env: 'A', extra: v.length } }),
      (v) => ({ db: { value: [v], env: 'A' } }),
      (v) => ({ db: { value: { nested: v }, env: 'A' } }),
      (v) => [v],
      (v) => v,
      (v) => ({ db: { value: v.repeat(Math.ceil((MAX_SECRET_BYTES + 1) / v.length)), file: 'a' } }),
    );
    fc.assert(fc.property(badShapes, fc.string({ minLength: 1, maxLength: 40 }), (shape, noise) => {
      const value = `${marker}${noise}`;
      const error = refusal(job(shape(value)));
      expect(error.message).not.toContain(marker);
      expect(JSON.stringify(error.problems)).not.toContain(marker);
    }));
  });
});
